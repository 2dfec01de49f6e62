import { z } from "zod";
import { PlanSchema, SubtaskSchema } from "./plan.js";
import { ResultSchema } from "./result.js";
import { UsageSchema } from "./usage.js";
import { FailureSchema } from "./failure.js";
import { RoleLimitsSchema, RuntimeSchema } from "./repo-config.js";
import { FindingSchema, IntegritySchema, ReviewSchema } from "./review.js";

export const RepoRefSchema = z.object({
  owner: z.string(),
  name: z.string(),
  installationId: z.number().int(),
});
export type RepoRef = z.infer<typeof RepoRefSchema>;

const common = {
  jobId: z.string(),
  runId: z.string(),
  repo: RepoRefSchema,
  attempt: z.number().int().positive(),
  /** What went wrong last time and what must change, for a retried job. */
  reflection: z.string().optional(),
  /** The repo's limits for this role (`agents.<role>` in its config), over the role card's. */
  limits: RoleLimitsSchema.optional(),
  /** The most this job may spend; the runner stops it there. */
  cap: z.object({ usd: z.number().nonnegative(), tokens: z.number().int().nonnegative() }).optional(),
};

/**
 * The setup phase a build or scrutiny job runs first: `install` as the repository set it
 * (absent: detect from lock files; "": nothing), and the hosts it may reach besides the registries.
 */
export const SetupSpecSchema = z.object({
  install: z.string().optional(),
  allow: z.array(z.string()).default([]),
});

/** Work sent to a runner. Stable `jobId`s make a re-sent job the same job. */
export const JobSchema = z.discriminatedUnion("kind", [
  z.object({
    ...common,
    kind: z.literal("plan"),
    defaultBranch: z.string(),
    issue: z.object({ number: z.number().int(), title: z.string(), body: z.string() }),
    /** The repo's route for the role; absent means the role card's default. */
    route: z.string().optional(),
    /** The plan checker's objections to the previous plan, for one re-ask. */
    feedback: z.array(z.string()).optional(),
  }),
  z.object({
    ...common,
    kind: z.literal("build"),
    /** The commit the subtask starts from: the run branch tip. */
    /** Which agent does the work; absent means the role card's choice. */
    runtime: RuntimeSchema.optional(),
    /**
     * Parallel mode: other subtasks may have moved the branch since `fromSha`, so the commit is
     * replayed onto the branch tip before it is pushed (a conflict is a typed failure).
     */
    integrate: z.boolean().default(false),
    /** The repo's own commands, which a CLI agent may run (its shell allow-list). */
    allowedCommands: z.array(z.string()).default([]),
    fromSha: z.string(),
    setup: SetupSpecSchema.default({ allow: [] }),
    /** The default branch commit the run started from: repo conventions are read there, never from the run's own changes. */
    baseSha: z.string(),
    branch: z.string(),
    subtask: SubtaskSchema,
    plan: PlanSchema,
    issue: z.object({ number: z.number().int(), title: z.string() }),
    /** The repo's route for the role; absent means the role card's default. */
    route: z.string().optional(),
  }),
  z.object({
    ...common,
    kind: z.literal("scrutiny"),
    headSha: z.string(),
    /** When set, test the branch's current tip instead of `headSha` (parallel subtasks finish in any order). */
    branch: z.string().optional(),
    commands: z.array(z.object({ name: z.string(), cmd: z.string() })),
    setup: SetupSpecSchema.default({ allow: [] }),
    /** The repository sets no test command: run the detected one after lint. */
    detectTest: z.boolean().default(false),
    /** For test integrity and protected paths: what the head is compared with. */
    baseSha: z.string().optional(),
    defaultBranch: z.string().optional(),
    protectedPaths: z.array(z.string()).default([]),
  }),
  z.object({
    ...common,
    kind: z.literal("review"),
    baseSha: z.string(),
    headSha: z.string(),
    /** Which reviewer of the quorum this is: "r1", "r2", … */
    reviewer: z.string(),
    route: z.string().optional(),
    plan: PlanSchema,
    round: z.number().int().positive(),
    /** Findings of the previous round, so a reviewer can check they were addressed. */
    priorFindings: z.array(FindingSchema).default([]),
  }),
]);
export type Job = z.infer<typeof JobSchema>;

export const CommandOutcomeSchema = z.object({
  name: z.string(),
  cmd: z.string(),
  exitCode: z.number().int(),
  ms: z.number().nonnegative(),
  timedOut: z.boolean(),
  /** The last lines of output, redacted. */
  outputTail: z.string(),
  /** Why it was not run (a failed install stops what follows). */
  skipped: z.string().optional(),
  /** The install was restored from the dependency cache, not run. */
  restored: z.boolean().optional(),
});
export type CommandOutcome = z.infer<typeof CommandOutcomeSchema>;

export const JobOutputSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("plan"), plan: PlanSchema, baseSha: z.string(), usage: z.array(UsageSchema) }),
  z.object({ kind: z.literal("build"), result: ResultSchema }),
  z.object({
    kind: z.literal("scrutiny"),
    commands: z.array(CommandOutcomeSchema),
    integrity: IntegritySchema.optional(),
    /** The commit that was tested. */
    headSha: z.string().optional(),
  }),
  z.object({ kind: z.literal("review"), review: ReviewSchema }),
]);
export type JobOutput = z.infer<typeof JobOutputSchema>;

export const JobOutcomeSchema = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), output: JobOutputSchema }),
  z.object({ ok: z.literal(false), failure: FailureSchema, usage: z.array(UsageSchema).default([]) }),
]);
export type JobOutcome = z.infer<typeof JobOutcomeSchema>;

/** What a running job reports after every turn, so a stall shows as progress that stops, not as a timer. */
export const JobProgressSchema = z.object({
  jobId: z.string(),
  at: z.string(),
  turn: z.number().int().nonnegative(),
  toolCalls: z.number().int().nonnegative(),
  /** Files changed in the worktree so far. */
  filesChanged: z.number().int().nonnegative(),
  /** Spent so far by this job (the built-in agent loop reports it; a CLI agent's spend arrives with its result). */
  costUsd: z.number().nonnegative().optional(),
  tokens: z.number().int().nonnegative().optional(),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;

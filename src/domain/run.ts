import { z } from "zod";
import { RepoRefSchema, CommandOutcomeSchema } from "./job.js";
import { PlanSchema } from "./plan.js";
import { ResultSchema } from "./result.js";
import { FailureSchema } from "./failure.js";
import { EffectSchema } from "./effect.js";
import { RepoConfigSchema } from "./repo-config.js";
import { UsageSchema } from "./usage.js";
import { IntegritySchema, ReviewSchema } from "./review.js";
import { CiCheckSchema } from "./event.js";

export const PhaseSchema = z.enum([
  "configuring",
  "planning",
  /** The plan is posted and waits for a writer's `/approve`. */
  "awaiting_approval",
  "building",
  "scrutiny",
  "publishing",
  /** Reviewers read the change; the gate check is `in_progress`. */
  "reviewing",
  /** Reviews are in; the repo's own CI on the head commit is still running. */
  "awaiting_ci",
  /** Terminal: the gate check is concluded on the PR; a person decides. */
  "gated",
  /** A person pushed to the run branch: Shopfloor stops touching it until `/retry`. */
  "paused",
  /** Terminal: a person cancelled it, closed the PR unmerged, or removed the trigger label. */
  "cancelled",
  /** Terminal: the PR was merged by a person. */
  "done",
  /** Terminal: the run stopped and a person has the handoff: label, assignees, comment, gate `action_required`. */
  "escalated",
  /** Terminal: the repo config is invalid; one comment names the field. */
  "rejected",
]);
export type Phase = z.infer<typeof PhaseSchema>;
export const terminalPhases: readonly Phase[] = ["gated", "escalated", "rejected", "cancelled", "done"];
/** Phases in which a person must act before anything moves: `/retry` resumes from them. */
export const resumablePhases: readonly Phase[] = ["escalated", "paused", "gated"];

export const SubtaskStateSchema = z.object({
  status: z.enum(["pending", "running", "ok", "blocked", "failed"]),
  attempts: z.number().int().nonnegative(),
  result: ResultSchema.optional(),
  failure: FailureSchema.optional(),
});
export type SubtaskState = z.infer<typeof SubtaskStateSchema>;

export const GateItemSchema = z.object({
  item: z.string(),
  state: z.enum(["pass", "fail", "pending"]),
  evidence: z.string(),
});
export type GateItem = z.infer<typeof GateItemSchema>;

/** A run's notes: one JSON document, rebuilt by replaying its journal through `decide`. */
export const RunSchema = z.object({
  id: z.string(),
  repo: RepoRefSchema,
  issue: z.object({ number: z.number().int(), title: z.string(), body: z.string() }),
  requestedBy: z.string(),
  deliveryId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  phase: PhaseSchema,
  config: RepoConfigSchema.optional(),
  defaultBranch: z.string().optional(),
  branch: z.string(),
  /** Which run of this issue this is (1 for the first): each run has its own branch and PR. */
  series: z.number().int().positive().default(1),
  baseSha: z.string().optional(),
  headSha: z.string().optional(),
  plan: PlanSchema.optional(),
  subtasks: z.record(z.string(), SubtaskStateSchema).default({}),
  scrutiny: z.array(CommandOutcomeSchema).optional(),
  /** Each model response's usage, by role, with when it was counted (absent on notes from before). */
  usage: z.array(UsageSchema.extend({ role: z.string(), at: z.string().optional() })).default([]),
  progressCommentId: z.number().int().optional(),
  pr: z.object({ number: z.number().int(), url: z.string() }).optional(),
  gate: z
    .object({
      /** Absent while the check is `in_progress`. */
      conclusion: z.enum(["success", "failure", "action_required"]).optional(),
      items: z.array(GateItemSchema),
      checkRunId: z.number().int().optional(),
    })
    .optional(),
  failure: FailureSchema.optional(),
  /** What a person is asked to decide, when escalated. */
  question: z.string().optional(),
  /** Every failed attempt, in order: the handoff's "what was attempted", and the same-failure check. */
  attempts: z
    .array(z.object({ jobId: z.string(), task: z.string(), at: z.string(), failure: FailureSchema }))
    .default([]),
  /** Plans rejected by the plan checker so far (one re-ask is allowed). */
  planRejections: z.number().int().nonnegative().default(0),
  approvedBy: z.string().optional(),
  integrity: IntegritySchema.optional(),
  /** The current review round and its reviews (one per reviewer, as they arrive). */
  reviewRound: z.number().int().nonnegative().default(0),
  reviews: z.array(ReviewSchema).default([]),
  /** Fix rounds used after blocking reviews, and fix attempts used after a red CI. */
  fixRounds: z.number().int().nonnegative().default(0),
  ciFixes: z.number().int().nonnegative().default(0),
  /** Fix attempts used after lint, test or a contract command failed on the result. */
  scrutinyFixes: z.number().int().nonnegative().default(0),
  ci: z.array(CiCheckSchema).optional(),
  /** Bumped by every `/retry`: job ids of a new generation start their attempts afresh. */
  generation: z.number().int().nonnegative().default(0),
  /** What the person said with `/retry`, and the route they asked for, for this generation's jobs. */
  retryNote: z.string().optional(),
  modelOverride: z.string().optional(),
  /** A `/retry --budget` given before the config loaded: applied when it arrives. */
  budgetOverride: z.number().positive().optional(),
  /** The commit the gate check was last published on. */
  gateSha: z.string().optional(),
  /** The last deliveries this run acted on: a delivery taken again after a crash is a repeat. */
  deliveries: z.array(z.string()).default([]),
  /** Subtasks redone alone on the latest tip after their change conflicted. */
  fixups: z.array(z.string()).default([]),
  /** People already told they may not steer this run (one polite refusal each). */
  refused: z.array(z.string()).default([]),
  /** Commits Shopfloor pushed to the run branch (latest last): a push webhook for one of them is its own. */
  pushedShas: z.array(z.string()).default([]),
  /** A push seen while builds were in flight (`builds`: their keys): decided when they have answered. */
  unexplainedPush: z.object({ headSha: z.string(), by: z.string(), builds: z.array(z.string()).default([]) }).optional(),
  /** Keys of jobs stopped before they answered (a stop, an escalation): their late answers only count their spend. */
  stoppedJobs: z.array(z.string()).default([]),
  /** Effects decided but not yet answered; the shell re-runs them after a crash. */
  pending: z.array(EffectSchema).default([]),
  /** Counter behind effect keys, so a key is never reused within a run. */
  effectSeq: z.number().int().nonnegative().default(0),
});
export type Run = z.infer<typeof RunSchema>;

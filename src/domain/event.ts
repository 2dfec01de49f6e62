import { z } from "zod";
import { RepoRefSchema, JobOutputSchema } from "./job.js";
import { FailureSchema } from "./failure.js";
import { RepoConfigSchema } from "./repo-config.js";
import { UsageSchema } from "./usage.js";

const base = {
  runId: z.string(),
  at: z.string(),
  /** The GitHub delivery this event came from, so a delivery replayed after a crash acts once. */
  delivery: z.string().optional(),
};

export const CiCheckSchema = z.object({
  name: z.string(),
  app: z.string(),
  status: z.string(),
  conclusion: z.string().nullable(),
  url: z.string().default(""),
  /** What the check said about itself (output title/summary, log excerpt), for a fix brief. */
  details: z.string().default(""),
});
export type CiCheck = z.infer<typeof CiCheckSchema>;
/** The outcome of an effect names the effect it answers. */
const answer = { ...base, key: z.string() };

/** Everything that can happen to a run. Time comes in on the event; `decide` reads no clock. */
export const EventSchema = z.discriminatedUnion("type", [
  z.object({
    ...base,
    type: z.literal("run.requested"),
    deliveryId: z.string(),
    repo: RepoRefSchema,
    issue: z.object({ number: z.number().int(), title: z.string(), body: z.string() }),
    sender: z.string(),
  }),
  z.object({
    ...answer,
    type: z.literal("config.loaded"),
    config: RepoConfigSchema,
    defaultBranch: z.string(),
  }),
  z.object({ ...answer, type: z.literal("config.invalid"), errors: z.array(z.string()).min(1) }),
  // No `commentId` when a newer progress update superseded this one before it was sent.
  z.object({ ...answer, type: z.literal("comment.upserted"), commentId: z.number().int().optional() }),
  z.object({ ...answer, type: z.literal("job.succeeded"), jobId: z.string(), output: JobOutputSchema }),
  z.object({
    ...answer,
    type: z.literal("job.failed"),
    jobId: z.string(),
    failure: FailureSchema,
    usage: z.array(UsageSchema).default([]),
    /** A random number in [0, 1) drawn by the shell, for the backoff's jitter: decide stays pure. */
    jitter: z.number().min(0).max(1).optional(),
  }),
  z.object({ ...answer, type: z.literal("pr.opened"), number: z.number().int(), url: z.string() }),
  z.object({ ...answer, type: z.literal("gate.published"), checkRunId: z.number().int() }),
  z.object({ ...answer, type: z.literal("effect.failed"), failure: FailureSchema, jitter: z.number().min(0).max(1).optional() }),
  /** An effect with nothing to report back but that it is done. */
  z.object({ ...answer, type: z.literal("effect.done") }),
  /** Other apps' checks on the head commit, as read from GitHub. */
  z.object({ ...answer, type: z.literal("ci.read"), checks: z.array(CiCheckSchema) }),
  /** A check suite of another app completed (webhook): the hint to read CI again. */
  z.object({ ...base, type: z.literal("ci.completed"), headSha: z.string() }),
  /**
   * A person steered the run: a slash command in a comment, a gate button, or an action in Mission Control.
   * Intake has already checked the person's live permission (write or higher).
   */
  z.object({
    ...base,
    type: z.literal("command.received"),
    command: z.enum(["retry", "escalate", "approve", "cancel", "status", "help"]),
    /** The free text after the command (`/retry <note>`, `/escalate <reason>`), sanitized. */
    note: z.string().default(""),
    /** `/retry --model <route>`: the route for the next attempt. */
    model: z.string().optional(),
    /** `/retry --budget <usd>`: the run's dollar budget from now on. */
    budgetUsd: z.number().positive().optional(),
    by: z.string(),
    source: z.enum(["comment", "button", "mission-control"]),
    /** The comment that carried it, to acknowledge with a reaction. */
    commentId: z.number().int().optional(),
    /** Where the comment was: the issue or the run's PR. */
    issueNumber: z.number().int().optional(),
    /** The command was malformed (e.g. `--budget lots`): it is answered, not acted on. */
    error: z.string().optional(),
  }),
  /** Someone without write permission tried a command: answered once per person per run. */
  z.object({ ...base, type: z.literal("command.refused"), by: z.string(), command: z.string(), issueNumber: z.number().int().optional() }),
  /** The monitor saw no progress from a running job for too long (the job was stopped). */
  z.object({ ...answer, type: z.literal("job.stalled"), jobId: z.string(), idleMs: z.number().nonnegative() }),
  /** The monitor saw a run wait on CI or on a person past its limit. */
  z.object({ ...base, type: z.literal("wait.expired"), waitingFor: z.enum(["ci", "approval"]), waitedMs: z.number().nonnegative() }),
  /** The run's PR was closed: merged by a person, or closed without merging. */
  z.object({
    ...base,
    type: z.literal("pr.closed"),
    merged: z.boolean(),
    by: z.string(),
    /** Which PR and head branch: a run acts only on its own (an earlier run of the issue had another). */
    number: z.number().int().optional(),
    branch: z.string().optional(),
  }),
  /** Someone removed the trigger label from the issue. */
  z.object({ ...base, type: z.literal("trigger.removed"), by: z.string() }),
  /** Commits arrived on a run branch; the machine tells Shopfloor's own pushes from a person's by commit. */
  z.object({
    ...base,
    type: z.literal("branch.pushed"),
    headSha: z.string(),
    by: z.string(),
    branch: z.string().optional(),
    /** History was rewritten: Shopfloor never does that, so it is always a person. */
    forced: z.boolean().optional(),
  }),
  /** A person with write access approved the plan that waits (`/approve`). */
  z.object({ ...base, type: z.literal("plan.approved"), by: z.string() }),
]);
export type Event = z.infer<typeof EventSchema>;
export type EventType = Event["type"];

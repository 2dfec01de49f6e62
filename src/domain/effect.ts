import { z } from "zod";
import { JobSchema } from "./job.js";
import { FindingSchema } from "./review.js";

/**
 * Side effects the engine asks the shell to perform. Each carries a stable `key`
 * (`<runId>:<kind>:<n>`) and is idempotent: re-running one after a crash finds
 * what the first attempt did instead of doing it twice.
 */
const keyed = {
  key: z.string(),
  /** Not before this time (ISO): a retry's backoff, kept in the notes so a restart honours it. */
  notBefore: z.string().optional(),
  /** Which try of this effect this is (1 when absent): retries count per effect, not per run. */
  attempt: z.number().int().positive().optional(),
};

export const EffectSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("loadConfig"), ...keyed }),
  z.object({ kind: z.literal("upsertProgressComment"), ...keyed, body: z.string() }),
  z.object({ kind: z.literal("postConfigError"), ...keyed, body: z.string() }),
  /** `at`: when it was decided, from which the monitor measures a job that never reports progress. */
  z.object({ kind: z.literal("dispatchJob"), ...keyed, job: JobSchema, at: z.string().optional() }),
  /** A stop reaching the workers: each job's signal aborts wherever it runs, or it never starts. */
  z.object({ kind: z.literal("stopJobs"), ...keyed, jobIds: z.array(z.string()).min(1), reason: z.string() }),
  z.object({
    kind: z.literal("openPullRequest"),
    ...keyed,
    head: z.string(),
    base: z.string(),
    title: z.string(),
    body: z.string(),
  }),
  z.object({
    kind: z.literal("publishGate"),
    ...keyed,
    headSha: z.string(),
    /** Absent while the gate still waits on something (`in_progress`). */
    conclusion: z.enum(["success", "failure", "action_required"]).optional(),
    title: z.string(),
    summary: z.string(),
    annotations: z
      .array(z.object({ path: z.string(), line: z.number().int().positive(), level: z.enum(["notice", "warning", "failure"]), title: z.string(), message: z.string() }))
      .default([]),
    /** Buttons on the check run: Retry, Escalate (`check_run.requested_action`). */
    actions: z.array(z.enum(["retry", "escalate"])).default([]),
  }),
  z.object({
    kind: z.literal("postReview"),
    ...keyed,
    pullNumber: z.number().int(),
    headSha: z.string(),
    reviewer: z.string(),
    round: z.number().int(),
    title: z.string(),
    summary: z.string(),
    findings: z.array(FindingSchema.extend({ onDiff: z.boolean() })),
  }),
  z.object({ kind: z.literal("markReady"), ...keyed, pullNumber: z.number().int() }),
  z.object({ kind: z.literal("requestReviewers"), ...keyed, pullNumber: z.number().int(), logins: z.array(z.string()).min(1) }),
  /** Acknowledge a command where it was given. */
  z.object({ kind: z.literal("addReaction"), ...keyed, commentId: z.number().int(), content: z.enum(["eyes", "+1", "confused"]) }),
  /** A short answer on the issue or PR (found again by a marker with this effect's key). */
  z.object({ kind: z.literal("postReply"), ...keyed, issueNumber: z.number().int(), body: z.string() }),
  z.object({ kind: z.literal("removeLabels"), ...keyed, labels: z.array(z.string()).min(1) }),
  /** After a merge: delete the run branch, but only if its tip is what was merged. */
  z.object({ kind: z.literal("deleteBranch"), ...keyed, branch: z.string(), expectedSha: z.string() }),
  /** Read other apps' check suites and statuses on the head commit. */
  z.object({
    kind: z.literal("readCi"),
    ...keyed,
    headSha: z.string(),
    /**
     * Set on the read at the end of the grace for CI to appear (`notBefore`): when the first read
     * of this head found no check and no status. While it is pending, "no CI" is not concluded.
     */
    graceSince: z.string().optional(),
  }),
  z.object({ kind: z.literal("addLabels"), ...keyed, labels: z.array(z.string()).min(1) }),
  z.object({ kind: z.literal("assignOwners"), ...keyed, owners: z.array(z.string()).min(1) }),
  /** The escalation handoff; the shell appends an excerpt of the decision trace from the journal. */
  z.object({ kind: z.literal("postHandoff"), ...keyed, body: z.string() }),
]);
export type Effect = z.infer<typeof EffectSchema>;
export type EffectKind = Effect["kind"];

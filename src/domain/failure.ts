import { z } from "zod";

export const FailureClassSchema = z.enum(["transient", "permanent"]);

/** Why something failed; the class decides between a retry and an escalation. */
export const FailureSchema = z.object({
  class: FailureClassSchema,
  reason: z.enum([
    "timeout",
    "rate_limit",
    "server_error",
    "network",
    "worker_lost",
    "blocked",
    "low_confidence",
    "invalid_output",
    "failed_review",
    "budget_exhausted",
    "policy_violation",
    "no_change",
    /** A subtask's change no longer applies on the run branch (another subtask changed the same lines). */
    "conflict",
    /** The setup phase (installing the repository's dependencies) failed. */
    "setup_failed",
    "bug",
  ]),
  detail: z.string(),
  /** Milliseconds the server asked us to wait (retry-after), when it said. */
  retryAfterMs: z.number().int().nonnegative().optional(),
});
export type Failure = z.infer<typeof FailureSchema>;

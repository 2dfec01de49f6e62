import type { Failure } from "../domain/index.js";

/** How transient failures are retried. Defaults with their reasons live in `config/settings.ts`. */
export interface RetryPolicy {
  /** Attempts per job, the first included. */
  maxAttempts: number;
  /** First backoff; doubled on every further attempt. */
  baseDelayMs: number;
  /** No backoff is longer than this, whatever the attempt. */
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 2_000, maxDelayMs: 120_000 };

export type RetryVerdict = { retry: true; delayMs: number } | { retry: false; why: string };

/**
 * Whether a failed attempt is tried again. Transient failures back off exponentially with
 * jitter (`jitter` in [0, 1) comes in on the event), never sooner than the server asked;
 * permanent failures, a spent attempt budget, or the same failure twice in a row stop.
 */
export function retryVerdict(failure: Failure, attempt: number, previous: Failure | undefined, jitter: number, policy: RetryPolicy): RetryVerdict {
  if (failure.class === "permanent") return { retry: false, why: `permanent failure (${failure.reason})` };
  // A rate limit repeats for reasons outside the work (a busy installation): its wait decides, not repetition.
  if (previous && failure.reason !== "rate_limit" && sameFailure(previous, failure)) return { retry: false, why: `the same failure twice in a row (${failure.reason})` };
  if (attempt >= policy.maxAttempts) return { retry: false, why: `${attempt} of ${policy.maxAttempts} attempts used` };
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.round(exponential * (0.5 + jitter / 2));
  return { retry: true, delayMs: Math.max(jittered, failure.retryAfterMs ?? 0) };
}

export function sameFailure(a: Failure, b: Failure): boolean {
  return a.class === b.class && a.reason === b.reason && a.detail === b.detail;
}

/** What the next attempt is told about the last one, so it does not repeat itself. */
export function reflection(failure: Failure, attempt: number): string {
  const change: Record<Failure["reason"], string> = {
    timeout: "Work in smaller steps and finish sooner; do not start long-running commands.",
    rate_limit: "Nothing in your approach needs to change; the provider asked us to slow down.",
    server_error: "Nothing in your approach needs to change; the provider failed.",
    network: "Nothing in your approach needs to change; the connection failed.",
    worker_lost: "The worker stopped mid-job; start again from the brief and check the worktree.",
    blocked: "Say precisely what blocks you if it still does.",
    low_confidence: "Verify each assertion by running its check before finishing.",
    invalid_output: "Call finish with arguments that match the schema exactly.",
    failed_review: "Address every finding of the review.",
    budget_exhausted: "Spend less: read only what you need.",
    policy_violation: "Change only the files you own.",
    no_change: "Make the change the brief asks for.",
    conflict: "Another subtask changed the same lines: redo the change on top of the current branch.",
    setup_failed: "The dependencies did not install; make sure the manifest and lock file agree.",
    bug: "Report what you observed.",
  };
  return [
    `Attempt ${attempt} failed: ${failure.class} / ${failure.reason}: ${failure.detail.slice(0, 1000)}`,
    `What changes now: ${change[failure.reason]}`,
    "Before acting, ask yourself: am I about to repeat what failed?",
  ].join("\n");
}

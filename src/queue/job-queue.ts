import type { Job, JobOutcome } from "../domain/index.js";

/** Runs a job on some runner and resolves with its outcome. Never rejects: failures are outcomes. */
export type JobHandler = (job: Job, signal: AbortSignal) => Promise<JobOutcome>;

export interface JobQueue {
  /** Submit a job; a job whose id is already queued or running shares that one's outcome. */
  run(job: Job): Promise<JobOutcome>;
  /** Jobs queued or running right now. */
  size(): number;
  /** When a job started running (ms since epoch); undefined while it waits for a runner or is unknown. */
  startedAt(jobId: string): number | undefined;
  /** Stop a running job: its handler's signal aborts. Its outcome, when it comes, is stale. */
  cancel(jobId: string, reason: string): boolean;
  close(): Promise<void>;
}

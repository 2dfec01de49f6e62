import type { Job, JobOutcome } from "../domain/index.js";

/** Runs a job on some runner and resolves with its outcome. Never rejects: failures are outcomes. */
export type JobHandler = (job: Job) => Promise<JobOutcome>;

export interface JobQueue {
  /** Submit a job; a job whose id is already queued or running shares that one's outcome. */
  run(job: Job): Promise<JobOutcome>;
  /** Jobs queued or running right now. */
  size(): number;
  close(): Promise<void>;
}

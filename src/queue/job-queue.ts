import type { Job, JobOutcome } from "../domain/index.js";

/** Runs a job on some runner and resolves with its outcome. Never rejects: failures are outcomes. */
export type JobHandler = (job: Job, signal: AbortSignal) => Promise<JobOutcome>;

/**
 * What the queue knows of a job: the truth about it after a restart (DESIGN §2). `gone` means
 * no runner holds it and no outcome is kept: it failed, its outcome expired, or it never arrived.
 */
export type JobStatus = { state: "running" | "waiting" } | { state: "done"; outcome: JobOutcome } | { state: "gone" };

/** How the runner pool is doing, for `/metrics` and `shopfloor doctor`. */
export interface QueueHealth {
  /** Jobs waiting for a runner (queue depth). */
  waiting: number;
  /** How long the oldest waiting job has waited (ms); undefined when none waits. */
  oldestWaitingMs: number | undefined;
  /** Running jobs by runner name; a runner that is up and idle is listed with 0. */
  activeByRunner: Record<string, number>;
  /** The ids of the jobs running on each runner (the same runners as `activeByRunner`). */
  jobsByRunner: Record<string, string[]>;
}

export interface JobQueue {
  /** Submit a job; a job whose id is already queued or running shares that one's outcome. */
  run(job: Job): Promise<JobOutcome>;
  /**
   * Where a job stands, as the queue (not this process) knows it. Rejects only when the queue
   * cannot be asked at all (Redis unreachable).
   */
  status(jobId: string): Promise<JobStatus>;
  /** Depth, age and activity of the whole pool (every node's jobs, in distributed mode). */
  health(): Promise<QueueHealth>;
  /** Jobs queued or running right now. */
  size(): number;
  /** When a job started running (ms since epoch); undefined while it waits for a runner or is unknown. */
  startedAt(jobId: string): number | undefined;
  /** Stop a running job: its handler's signal aborts. Its outcome, when it comes, is stale. */
  cancel(jobId: string, reason: string): boolean;
  close(): Promise<void>;
}

import PQueue from "p-queue";
import { classifyFailure, type Job, type JobOutcome } from "../domain/index.js";
import type { JobHandler, JobQueue, JobStatus, QueueHealth } from "./job-queue.js";
import { runnerName } from "./runner-name.js";

/**
 * The embedded runner pool: jobs run in this process, at most `concurrency` at once.
 * Past `maxQueued` waiting jobs, `run` answers a transient failure instead of growing without bound.
 */
export class LocalJobQueue implements JobQueue {
  private readonly queue: PQueue;
  private readonly inFlight = new Map<string, Promise<JobOutcome>>();
  /** When each job in flight was submitted, for the age of the oldest waiting one. */
  private readonly submittedAt = new Map<string, number>();
  private readonly running = new Map<string, { startedAt: number; controller: AbortController }>();
  /** Jobs stopped while they waited for a slot: they never start. */
  private readonly stoppedWaiting = new Map<string, string>();

  constructor(
    private readonly handler: JobHandler,
    private readonly opts: { concurrency: number; maxQueued: number },
  ) {
    this.queue = new PQueue({ concurrency: opts.concurrency });
  }

  run(job: Job): Promise<JobOutcome> {
    const existing = this.inFlight.get(job.jobId);
    if (existing) return existing;
    if (this.queue.size >= this.opts.maxQueued) {
      return Promise.resolve({
        ok: false,
        failure: { class: "transient", reason: "server_error", detail: `runner queue full (${this.opts.maxQueued} waiting)` },
        usage: [],
      });
    }
    const outcome = this.queue
      .add(
        async (): Promise<JobOutcome> => {
          const stopped = this.stoppedWaiting.get(job.jobId);
          if (stopped !== undefined) {
            this.stoppedWaiting.delete(job.jobId);
            return { ok: false, failure: { class: "transient", reason: "worker_lost", detail: `stopped before it started: ${stopped}` }, usage: [] };
          }
          const controller = new AbortController();
          this.running.set(job.jobId, { startedAt: Date.now(), controller });
          try {
            return await this.handler(job, controller.signal);
          } finally {
            this.running.delete(job.jobId);
          }
        },
        { throwOnTimeout: true },
      )
      .then(
        (result) => result as JobOutcome,
        (error: unknown): JobOutcome => ({ ok: false, failure: classifyFailure(error), usage: [] }),
      )
      .finally(() => {
        this.inFlight.delete(job.jobId);
        this.submittedAt.delete(job.jobId);
      });
    this.inFlight.set(job.jobId, outcome);
    this.submittedAt.set(job.jobId, Date.now());
    return outcome;
  }

  /** Jobs live in this process only: after a restart every earlier job is gone. */
  async status(jobId: string): Promise<JobStatus> {
    if (this.running.has(jobId)) return { state: "running" };
    return this.inFlight.has(jobId) ? { state: "waiting" } : { state: "gone" };
  }

  async health(): Promise<QueueHealth> {
    const now = Date.now();
    let oldest: number | undefined;
    for (const [jobId, at] of this.submittedAt) {
      if (!this.running.has(jobId) && (oldest === undefined || at < oldest)) oldest = at;
    }
    const runner = runnerName();
    return {
      waiting: this.queue.size,
      oldestWaitingMs: oldest === undefined ? undefined : now - oldest,
      activeByRunner: { [runner]: this.running.size },
      jobsByRunner: { [runner]: [...this.running.keys()] },
    };
  }

  startedAt(jobId: string): number | undefined {
    return this.running.get(jobId)?.startedAt;
  }

  cancel(jobId: string, reason: string): boolean {
    const job = this.running.get(jobId);
    if (job) {
      job.controller.abort(new Error(reason));
      return true;
    }
    if (!this.inFlight.has(jobId)) return false;
    this.stoppedWaiting.set(jobId, reason);
    return true;
  }

  size(): number {
    return this.queue.size + this.queue.pending;
  }

  async close(): Promise<void> {
    this.queue.clear();
    await this.queue.onIdle();
  }
}


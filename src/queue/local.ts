import PQueue from "p-queue";
import { classifyFailure, type Job, type JobOutcome } from "../domain/index.js";
import type { JobHandler, JobQueue } from "./job-queue.js";

/**
 * The embedded runner pool: jobs run in this process, at most `concurrency` at once.
 * Past `maxQueued` waiting jobs, `run` answers a transient failure instead of growing without bound.
 */
export class LocalJobQueue implements JobQueue {
  private readonly queue: PQueue;
  private readonly inFlight = new Map<string, Promise<JobOutcome>>();
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
      .finally(() => this.inFlight.delete(job.jobId));
    this.inFlight.set(job.jobId, outcome);
    return outcome;
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


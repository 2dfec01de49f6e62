import { QueueEvents, Worker, type ConnectionOptions } from "bullmq";
import type { Redis } from "ioredis";
import { classifyFailure, JobSchema, type JobOutcome } from "../domain/index.js";
import { CANCEL_EVENT, DEFAULT_QUEUE_NAME, parseOutcome, stoppedKey, type CancelListener } from "./bull-shared.js";
import type { JobHandler } from "./job-queue.js";
import { runnerName } from "./runner-name.js";

export interface RunnerOptions {
  connection: ConnectionOptions;
  handler: JobHandler;
  concurrency: number;
  queueName?: string;
  /** How this runner shows in queue health; `SHOPFLOOR_RUNNER_NAME` or `host:pid` when left out. */
  name?: string;
  /**
   * A runner holds each job's lock for this long and renews it at half that; a runner that dies
   * stops renewing, so its job is found stalled within about `lockDurationMs + stalledIntervalMs`.
   * Default 30 s (BullMQ's).
   */
  lockDurationMs?: number;
  /** How often each runner looks for stalled jobs. Default 30 s (BullMQ's). */
  stalledIntervalMs?: number;
  /** How many times a stalled job goes back to the queue before it fails (→ `worker_lost`). Default 1. */
  maxStalledCount?: number;
}

export interface Runner {
  /** The BullMQ worker, for tests that simulate a runner's death with `worker.close(true)`. */
  readonly worker: Worker;
  readonly name: string;
  close(): Promise<void>;
}

/** A runner node: takes jobs from the queue and runs them through `handler`, `concurrency` at once. */
export function startRunner(opts: RunnerOptions): Runner {
  const queueName = opts.queueName ?? DEFAULT_QUEUE_NAME;
  const name = opts.name ?? runnerName();
  const worker = new Worker(
    queueName,
    async (bullJob, _token, signal): Promise<JobOutcome> => {
      const parsed = JobSchema.safeParse(bullJob.data);
      if (!parsed.success) {
        return {
          ok: false,
          failure: { class: "permanent", reason: "bug", detail: `job ${bullJob.id} is not a Job: ${parsed.error.message}` },
          usage: [],
        };
      }
      const stopped = await ((await worker.client) as unknown as Redis).get(stoppedKey(worker, bullJob.id ?? "")).catch(() => null);
      if (stopped !== null) {
        return { ok: false, failure: { class: "transient", reason: "worker_lost", detail: `stopped before it started: ${stopped}` }, usage: [] };
      }
      let outcome: unknown;
      try {
        outcome = await opts.handler(parsed.data, signal ?? new AbortController().signal);
      } catch (error) {
        return { ok: false, failure: classifyFailure(error), usage: [] };
      }
      return parseOutcome(outcome, parsed.data.jobId);
    },
    {
      connection: opts.connection,
      concurrency: opts.concurrency,
      // The worker's name becomes each job's `processedBy` and part of its Redis client name:
      // how queue health counts active jobs per runner and lists idle runners.
      name,
      lockDuration: opts.lockDurationMs ?? 30_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      maxStalledCount: opts.maxStalledCount ?? 1,
    },
  );
  worker.on("error", () => undefined);
  // A lock that cannot be renewed is gone (expired during a pause, or taken back as stalled): the
  // job may already be another runner's. BullMQ only reports it, so the handler is stopped here,
  // through the same signal as a cancel, before it spends or pushes anything more.
  worker.on("lockRenewalFailed", (bullIds) => {
    for (const bullId of bullIds) worker.cancelJob(bullId, `runner ${name} lost the queue lock of this job`);
  });
  const cancels = new QueueEvents(queueName, { connection: opts.connection });
  cancels.on("error", () => undefined);
  cancels.on<CancelListener, typeof CANCEL_EVENT>(CANCEL_EVENT, (args) => {
    if (args.jobId) worker.cancelJob(args.jobId, args.reason);
  });
  return {
    worker,
    name,
    async close() {
      await Promise.allSettled([cancels.close(), worker.close()]);
    },
  };
}

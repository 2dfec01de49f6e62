import { Job as BullJob, Queue, QueueEvents, QueueEventsProducer, Worker, type ConnectionOptions, type QueueEventsListener } from "bullmq";
import { classifyFailure, JobOutcomeSchema, JobSchema, type Job, type JobOutcome } from "../domain/index.js";
import type { JobHandler, JobQueue } from "./job-queue.js";

import type { Redis } from "ioredis";

export type { ConnectionOptions } from "bullmq";

/** One queue name shared by orchestrator and runner nodes. */
export const DEFAULT_QUEUE_NAME = "shopfloor-jobs";
/** The custom event runners listen on to abort a job (see `BullJobQueue.cancel`). */
const CANCEL_EVENT = "shopfloor:cancel";

interface CancelListener extends QueueEventsListener {
  [CANCEL_EVENT]: (args: { jobId?: string; reason?: string }, id: string) => void;
}

export interface BullJobQueueOptions {
  connection: ConnectionOptions;
  queueName?: string;
  /**
   * How long a finished job (and its outcome) stays in Redis. Within this window a re-sent job id
   * answers the same outcome without running again. Default one day.
   */
  keepFinishedSeconds?: number;
}

/**
 * The orchestrator side of the distributed runner pool (DESIGN §2): jobs go to BullMQ over Redis
 * with `jobId` = our stable job id, so a re-sent job — from this node or another — is the same
 * BullMQ job and runs once. `run` resolves when the job completes; a job BullMQ gives up on
 * (stalled past the runners' `maxStalledCount`, or failed) resolves as `transient: worker_lost`.
 */
export class BullJobQueue implements JobQueue {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly producer: QueueEventsProducer;
  private readonly ready: Promise<unknown>;
  private readonly inFlight = new Map<string, Promise<JobOutcome>>();
  private readonly started = new Map<string, number>();

  constructor(opts: BullJobQueueOptions) {
    const name = opts.queueName ?? DEFAULT_QUEUE_NAME;
    const age = opts.keepFinishedSeconds ?? 24 * 60 * 60;
    this.queue = new Queue(name, {
      connection: opts.connection,
      // Handler errors come back as outcomes, never as BullMQ failures, so retrying inside
      // BullMQ would only repeat a stall; the engine's retry policy decides instead.
      defaultJobOptions: { attempts: 1, removeOnComplete: { age }, removeOnFail: { age } },
    });
    this.events = new QueueEvents(name, { connection: opts.connection });
    this.producer = new QueueEventsProducer(name, { connection: opts.connection });
    // `startedAt` must answer synchronously, so it follows the event stream instead of asking Redis.
    this.events.on("active", ({ jobId: bullId }, id) => {
      const jobId = fromBullId(bullId);
      if (this.inFlight.has(jobId)) this.started.set(jobId, streamTime(id));
    });
    this.events.on("waiting", ({ jobId: bullId }) => this.started.delete(fromBullId(bullId)));
    this.ready = Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
    // Connection trouble is retried by ioredis; an unhandled 'error' event would crash the process.
    this.queue.on("error", () => undefined);
    this.events.on("error", () => undefined);
    this.producer.on("error", () => undefined);
  }

  run(job: Job): Promise<JobOutcome> {
    const existing = this.inFlight.get(job.jobId);
    if (existing) return existing;
    const outcome = this.submit(job).finally(() => {
      this.inFlight.delete(job.jobId);
      this.started.delete(job.jobId);
    });
    this.inFlight.set(job.jobId, outcome);
    return outcome;
  }

  private async submit(job: Job): Promise<JobOutcome> {
    let bullJob;
    try {
      await this.ready;
      bullJob = await this.queue.add(job.kind, JobSchema.parse(job), { jobId: toBullId(job.jobId) });
    } catch (error) {
      return { ok: false, failure: classifyFailure(error), usage: [] };
    }
    // The `active` event is missed when a runner takes the job before this node's event stream is
    // read; the job's own `processedOn` says the same, so it is polled until one of them answers.
    const poll = setInterval(() => {
      if (this.started.has(job.jobId)) return;
      BullJob.fromId(this.queue, toBullId(job.jobId))
        .then((j) => {
          if (j?.processedOn && this.inFlight.has(job.jobId) && !this.started.has(job.jobId)) this.started.set(job.jobId, j.processedOn);
        })
        .catch(() => undefined);
    }, 250);
    poll.unref();
    let returned: unknown;
    try {
      returned = await bullJob.waitUntilFinished(this.events);
    } catch (error) {
      return {
        ok: false,
        failure: { class: "transient", reason: "worker_lost", detail: `runner lost job ${job.jobId}: ${messageOf(error)}` },
        usage: [],
      };
    } finally {
      clearInterval(poll);
    }
    return parseOutcome(returned, job.jobId);
  }

  /** Jobs this node is waiting on (queued or running); jobs other orchestrator nodes sent are not counted. */
  size(): number {
    return this.inFlight.size;
  }

  /** When a runner took the job (from BullMQ's `active` event); undefined while it waits or after a stall. */
  startedAt(jobId: string): number | undefined {
    return this.started.get(jobId);
  }

  /**
   * Best effort: publishes a cancel event that every runner hears, and the runner holding the job
   * aborts its handler's signal. True when the job was running as far as this node knows — not a
   * promise that a runner heard it (one that is partitioned away lets the job finish; its outcome
   * is stale anyway).
   */
  cancel(jobId: string, reason: string): boolean {
    const bullId = toBullId(jobId);
    // A job still waiting is marked first, so the runner that takes it later answers at once;
    // one running hears the event. Either may have been sent by another node: always do both.
    void this.queue.client
      .then((redis) => (redis as unknown as Redis).setex(stoppedKey(this.queue, bullId), STOPPED_TTL_SECONDS, reason))
      .then(() => this.producer.publishEvent({ eventName: CANCEL_EVENT, jobId: bullId, reason }))
      .catch(() => undefined);
    return this.inFlight.has(jobId);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.producer.close(), this.events.close(), this.queue.close()]);
  }
}

export interface RunnerOptions {
  connection: ConnectionOptions;
  handler: JobHandler;
  concurrency: number;
  queueName?: string;
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
  close(): Promise<void>;
}

/** A runner node: takes jobs from the queue and runs them through `handler`, `concurrency` at once. */
export function startRunner(opts: RunnerOptions): Runner {
  const name = opts.queueName ?? DEFAULT_QUEUE_NAME;
  const worker = new Worker(
    name,
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
      lockDuration: opts.lockDurationMs ?? 30_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      maxStalledCount: opts.maxStalledCount ?? 1,
    },
  );
  worker.on("error", () => undefined);
  const cancels = new QueueEvents(name, { connection: opts.connection });
  cancels.on("error", () => undefined);
  cancels.on<CancelListener, typeof CANCEL_EVENT>(CANCEL_EVENT, (args) => {
    if (args.jobId) worker.cancelJob(args.jobId, args.reason);
  });
  return {
    worker,
    async close() {
      await Promise.allSettled([cancels.close(), worker.close()]);
    },
  };
}

/** How long a stop mark waits for its job to be taken; a job waits no longer than a day. */
const STOPPED_TTL_SECONDS = 24 * 60 * 60;
/** The stop mark of a job, beside the queue's own keys. */
const stoppedKey = (on: { keys: Record<string, string> }, bullId: string): string => `${on.keys[""]}stopped:${bullId}`;

/** BullMQ refuses ':' in custom job ids, and ours are `<owner>/<repo>#<n>:<kind>:…`; '|' never occurs in them. */
export const toBullId = (jobId: string): string => jobId.replace(/:/g, "|");
const fromBullId = (bullId: string): string => bullId.replace(/\|/g, ":");

/** An outcome that crossed Redis; a malformed one is a bug in a runner, not something to retry. */
function parseOutcome(raw: unknown, jobId: string): JobOutcome {
  let value = raw;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      // left as the string; the schema check below reports it
    }
  }
  const parsed = JobOutcomeSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  return {
    ok: false,
    failure: { class: "permanent", reason: "bug", detail: `job ${jobId} answered an outcome that is not a JobOutcome: ${parsed.error.message}` },
    usage: [],
  };
}

/** A Redis stream id is `<ms>-<seq>`: the time the event was written. */
function streamTime(id: string): number {
  const ms = Number(id.split("-")[0]);
  return Number.isFinite(ms) && ms > 0 ? ms : Date.now();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

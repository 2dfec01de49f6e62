import { Job as BullJob, Queue, QueueEvents, QueueEventsProducer, type ConnectionOptions } from "bullmq";
import type { Redis } from "ioredis";
import { classifyFailure, JobSchema, type Job, type JobOutcome } from "../domain/index.js";
import { readBullHealth } from "./bull-health.js";
import { CANCEL_EVENT, DEFAULT_QUEUE_NAME, fromBullId, parseOutcome, STOPPED_TTL_SECONDS, stoppedKey, toBullId } from "./bull-shared.js";
import type { JobQueue, JobStatus, QueueHealth } from "./job-queue.js";

export type { ConnectionOptions } from "bullmq";
export { DEFAULT_QUEUE_NAME, toBullId } from "./bull-shared.js";
export { startRunner, type Runner, type RunnerOptions } from "./runner-node.js";

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
 * A job sent again while it waits or runs (after this node restarted) is not added twice: `run`
 * attaches to it and answers its outcome.
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
    // Every job this node waits on listens for the queue's closing: as many listeners as jobs in flight.
    this.queue.setMaxListeners(0);
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

  async status(jobId: string): Promise<JobStatus> {
    await this.ready;
    const bullId = toBullId(jobId);
    const state = await this.queue.getJobState(bullId);
    if (state === "active") return { state: "running" };
    if (state === "waiting" || state === "delayed" || state === "prioritized" || state === "waiting-children") return { state: "waiting" };
    if (state === "completed") {
      const job = await BullJob.fromId(this.queue, bullId);
      // Removed between the two reads (its keep-time ran out): as gone as if never kept.
      return job ? { state: "done", outcome: parseOutcome(job.returnvalue, jobId) } : { state: "gone" };
    }
    // Failed (stalled past the allowed count) or unknown (never added, or expired).
    return { state: "gone" };
  }

  async health(): Promise<QueueHealth> {
    await this.ready;
    return readBullHealth(this.queue);
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

/** A Redis stream id is `<ms>-<seq>`: the time the event was written. */
function streamTime(id: string): number {
  const ms = Number(id.split("-")[0]);
  return Number.isFinite(ms) && ms > 0 ? ms : Date.now();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

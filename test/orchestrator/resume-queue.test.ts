import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { FileRunStore } from "../../src/store/file.js";
import { Engine } from "../../src/orchestrator/engine.js";
import { defaultMachineSettings } from "../../src/orchestrator/machine.js";
import { defaultRepoConfig, type Effect, type Job, type JobOutcome } from "../../src/domain/index.js";
import { BullJobQueue, startRunner, toBullId } from "../../src/queue/bullmq.js";
import { Driver, at, plan, requested, runId } from "./fixtures.js";
import { startRedis, type RedisServer } from "../kit/redis.js";

/**
 * An app restart in distributed mode: the run's notes say a plan job was dispatched and never
 * answered. What the restarted engine does about it must follow what BullMQ knows of the job.
 */
let server: RedisServer;
let opened: { close(): Promise<void> }[] = [];
let queues = 0;

beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close().catch(() => undefined);
});
afterAll(async () => {
  await server?.stop();
});

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const planned: JobOutcome = { ok: true, output: { kind: "plan", plan, baseSha: "base0", usage: [] } };

async function cluster() {
  const queueName = `resume${++queues}`;
  const connection = { url: server.url };
  const root = await mkdtemp(join(tmpdir(), "shopfloor-resume-"));
  opened.push({ close: () => rm(root, { recursive: true, force: true }) });
  const store = new FileRunStore(root);

  // The run as a crashed app left it: the plan job dispatched, nothing else pending.
  const d = new Driver();
  d.step(requested);
  d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
  const dispatch = d.job("plan");
  await store.withRunLock(runId, () => store.save({ ...d.run!, pending: [dispatch] }));

  /** Every start of a handler, by job id: a second copy of a job shows here. */
  const starts: string[] = [];
  const release = deferred();
  const started = deferred();
  const runner = startRunner({
    connection,
    queueName,
    concurrency: 4,
    lockDurationMs: 2_000,
    stalledIntervalMs: 1_000,
    handler: async (job: Job) => {
      starts.push(job.jobId);
      if (job.kind !== "plan") return new Promise<JobOutcome>(() => undefined);
      started.resolve();
      await release.promise;
      return planned;
    },
  });
  opened.push({ close: () => runner.worker.close(true).then(() => runner.close()) });
  const inspector = new Queue(queueName, { connection });
  opened.push(inspector);

  /** An app process: its own queue client and engine over the shared store. GitHub never answers here. */
  const app = () => {
    const queue = new BullJobQueue({ connection, queueName });
    const engine = new Engine({
      store,
      settings: defaultMachineSettings,
      log: { info() {}, warn() {}, error() {} },
      effects: {
        octokitFor: () => new Promise(() => undefined),
        queue,
        loadRepoConfig: async () => ({ ok: true, config: defaultRepoConfig }),
        traceExcerpt: async () => "",
      },
    });
    const stop = async () => {
      engine.stop();
      await queue.close();
    };
    opened.push({ close: stop });
    return { engine, queue, stop };
  };

  const journal = async () => (await store.journal(runId)).map((e) => e.event);
  const answers = async () => (await journal()).filter((e) => (e.type === "job.succeeded" || e.type === "job.failed") && e.key === dispatch.key);
  const state = () => inspector.getJobState(toBullId(dispatch.job.jobId));
  return { store, dispatch, starts, release, started, app, journal, answers, state };
}

type Dispatch = Extract<Effect, { kind: "dispatchJob" }>;

/** The first app sends the job as its dispatch effect does, then dies with it running. */
async function dispatchedThenCrashed(c: Awaited<ReturnType<typeof cluster>>, dispatch: Dispatch) {
  const first = c.app();
  void first.queue.run(dispatch.job);
  await c.started.promise;
  await first.stop();
}

describe("Engine.resume asks the queue about each unanswered job", () => {
  it("waits for a job a runner is still working on and takes its answer: one run, no worker_lost", async () => {
    const c = await cluster();
    await dispatchedThenCrashed(c, c.dispatch);

    const second = c.app();
    expect(await second.engine.resume()).toBe(1);
    expect(await c.answers()).toEqual([]);
    c.release.resolve();
    await vi.waitFor(async () => expect(await c.answers()).toHaveLength(1), { timeout: 10_000 });
    expect((await c.answers())[0]).toMatchObject({ type: "job.succeeded", output: { kind: "plan", plan: { summary: plan.summary } } });
    expect(c.starts.filter((id) => id.includes(":plan:"))).toEqual([c.dispatch.job.jobId]);
    // The answer is journaled before the notes are saved: the notes follow.
    await vi.waitFor(async () => expect((await c.store.load(runId))?.pending.some((e) => e.key === c.dispatch.key)).toBe(false), { timeout: 10_000 });
    expect((await c.store.load(runId))?.phase).not.toBe("escalated");
  });

  it("does not escalate after two restarts in a row while the job runs", async () => {
    const c = await cluster();
    await dispatchedThenCrashed(c, c.dispatch);

    const second = c.app();
    await second.engine.resume();
    await second.stop();
    const third = c.app();
    await third.engine.resume();
    expect(await c.answers()).toEqual([]);
    c.release.resolve();
    await vi.waitFor(async () => expect(await c.answers()).toHaveLength(1), { timeout: 10_000 });
    expect((await c.answers())[0]?.type).toBe("job.succeeded");
    expect((await c.journal()).filter((e) => e.type === "job.failed")).toEqual([]);
    expect(c.starts.filter((id) => id.includes(":plan:"))).toEqual([c.dispatch.job.jobId]);
    expect((await c.store.load(runId))?.phase).not.toBe("escalated");
  });

  it("takes the stored result of a job that completed while no app was up", async () => {
    const c = await cluster();
    await dispatchedThenCrashed(c, c.dispatch);
    c.release.resolve();
    await vi.waitFor(async () => expect(await c.state()).toBe("completed"), { timeout: 10_000 });

    const second = c.app();
    await second.engine.resume();
    await vi.waitFor(async () => expect(await c.answers()).toHaveLength(1), { timeout: 10_000 });
    expect((await c.answers())[0]).toMatchObject({ type: "job.succeeded", output: { kind: "plan", baseSha: "base0" } });
    expect(c.starts.filter((id) => id.includes(":plan:"))).toEqual([c.dispatch.job.jobId]);
  });

  it("answers worker_lost for a job the queue no longer has", async () => {
    const c = await cluster();
    expect(await c.state()).toBe("unknown");

    const second = c.app();
    await second.engine.resume();
    await vi.waitFor(async () => expect(await c.answers()).toHaveLength(1), { timeout: 10_000 });
    expect((await c.answers())[0]).toMatchObject({ type: "job.failed", failure: { class: "transient", reason: "worker_lost" } });
    expect(c.starts.filter((id) => id === c.dispatch.job.jobId)).toEqual([]);
  });
});

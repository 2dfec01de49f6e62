import { emptyHealth, goneStatus } from "./queue-fakes.js";
import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { FileRunStore } from "../../src/store/file.js";
import { Engine } from "../../src/orchestrator/engine.js";
import { decide, defaultMachineSettings } from "../../src/orchestrator/machine.js";
import type { EffectContext } from "../../src/orchestrator/effects/index.js";
import { defaultRepoConfig, type Event, type Job, type JobOutcome } from "../../src/domain/index.js";
import type { JobQueue } from "../../src/queue/job-queue.js";
import type { RunStore } from "../../src/store/run-store.js";
import { Driver, at, requested, runId } from "./fixtures.js";
import { api, capture, fenceGitHub, testOctokit } from "../github/kit.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A run whose config never loaded: the installation had not granted `contents`. */
function escalatedWithoutConfig(): Driver {
  const d = new Driver();
  d.step(requested);
  const load = d.pending("loadConfig");
  for (let i = 0; i < 10 && d.run!.phase !== "escalated"; i++) {
    const key = d.run!.pending.find((e) => e.kind === "loadConfig")?.key ?? load.key;
    d.step({ type: "effect.failed", runId, at, key, failure: { class: "permanent", reason: "invalid_output", detail: "HTTP 403: Resource not accessible by integration" } });
  }
  expect(d.run!.phase).toBe("escalated");
  expect(d.run!.config).toBeUndefined();
  return d;
}

const retry = (extra: Partial<Extract<Event, { type: "command.received" }>> = {}): Event => ({
  type: "command.received",
  runId,
  at,
  command: "retry",
  note: "",
  by: "writer",
  source: "comment",
  issueNumber: 7,
  ...extra,
});

describe("a run whose config never loaded", () => {
  it("takes `/retry --budget 20`: loads the config again and keeps the budget for when it arrives", () => {
    const d = escalatedWithoutConfig();
    const effects = d.step(retry({ budgetUsd: 20 }));
    expect(d.run!.phase).toBe("configuring");
    expect(effects.map((e) => e.kind)).toContain("loadConfig");
    const reply = effects.find((e) => e.kind === "postReply");
    expect(reply && "body" in reply && reply.body).toContain("$20");
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    expect(d.run!.config!.budget.usd).toBe(20);
    expect(d.run!.phase).toBe("planning");
  });
});


/** Takes jobs and never answers: the inbox, not the work, is under test. */
class IdleQueue implements JobQueue {
  readonly jobs: Job[] = [];
  private readonly waiting: ((outcome: JobOutcome) => void)[] = [];
  async run(job: Job): Promise<JobOutcome> {
    this.jobs.push(job);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  /** Ends every job, so the engine can go idle when a test is over. */
  release(): void {
    for (const resolve of this.waiting.splice(0)) resolve({ ok: false, failure: { class: "transient", reason: "worker_lost", detail: "test over" }, usage: [] });
  }
  size(): number {
    return 0;
  }
  startedAt(): number | undefined {
    return undefined;
  }
  cancel(): boolean {
    return false;
  }
  async close(): Promise<void> {}
  status = goneStatus;
  health = emptyHealth;
}

async function inboxEngine(breakRun?: string) {
  const root = await mkdtemp(join(tmpdir(), "shopfloor-inbox-"));
  dirs.push(root);
  const files = new FileRunStore(root);
  const journaled: string[] = [];
  // A run whose journal cannot be written (a broken disk under one run's folder): every event for it throws.
  const store: RunStore = new Proxy(files, {
    get(target, prop, receiver) {
      if (prop === "appendJournal") {
        return async (id: string, entry: { event: Event }) => {
          if (id === breakRun) throw new Error(`EIO: i/o error, write (journal of ${id})`);
          journaled.push(`${id} ${entry.event.type}`);
          return target.appendJournal(id, entry as never);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const queue = new IdleQueue();
  const effects: EffectContext = {
    octokitFor: async () => testOctokit(),
    queue,
    loadRepoConfig: async () => ({ ok: true, config: defaultRepoConfig }),
    traceExcerpt: async () => "",
  };
  const errors: object[] = [];
  const log = { info: () => {}, warn: () => {}, error: (obj: object) => errors.push(obj) };
  const engine = new Engine({ store, effects, settings: defaultMachineSettings, log, inboxRetryMs: 1 });
  /** Stop, let every effect in flight end, then the folder can go. */
  const finish = async () => {
    engine.stop();
    queue.release();
    await engine.idle();
  };
  return { engine, files, errors, journaled, finish };
}

describe("the inbox", () => {
  it("sets aside a delivery that keeps failing, answers the person who sent it, and takes the rest in arrival order", async () => {
    const { engine, files, errors, journaled, finish } = await inboxEngine("octo/broken#3");
    const github = fenceGitHub();
    try {
      // The broken run exists (its notes load) but nothing can be journaled for it.
      await files.save({ ...decide(undefined, { ...requested, runId: "octo/broken#3", repo: { owner: "octo", name: "broken", installationId: 42 }, issue: { number: 3, title: "t", body: "" } }).run!, phase: "escalated" });
      const replies: unknown[] = [];
      nock(api).post("/repos/octo/broken/issues/3/comments", capture(replies)).reply(201, { id: 1 });
      // Arrival order is not id order: the failing one arrives first and sorts first too.
      await files.putDelivery({ deliveryId: "a-cmd", event: { ...retry(), runId: "octo/broken#3", issueNumber: 3 } as Event, receivedAt: 1 });
      await files.putDelivery({ deliveryId: "z-first-run", event: { ...requested, runId: "octo/app#7" }, receivedAt: 2 });
      await files.putDelivery({ deliveryId: "b-second-run", event: { ...requested, runId: "octo/app#8", issue: { number: 8, title: "Eight", body: "" } }, receivedAt: 3 });

      await engine.drainInbox();
      await waitFor(async () => (await files.setAsideDeliveries()).length === 1 && nock.isDone());

      expect(await files.pendingDeliveries()).toEqual([]);
      const aside = await files.setAsideDeliveries();
      expect(aside.map((e) => e.deliveryId)).toEqual(["a-cmd"]);
      expect(aside[0]!.error).toContain("EIO");
      // The later deliveries were acted on, in the order they arrived.
      expect(journaled.filter((j) => j.endsWith("run.requested"))).toEqual(["octo/app#7 run.requested", "octo/app#8 run.requested"]);
      expect(replies).toHaveLength(1);
      expect((replies[0] as { body: string }).body).toMatch(/@writer .*could not act on .*\/retry.*a-cmd/s);
      expect(errors.some((e) => JSON.stringify(e).includes("a-cmd"))).toBe(true);
      await finish();
      // The runs that went on talk to GitHub as usual; nothing else was said about the broken one.
      expect(github.unexpected.filter((u) => u.includes("octo/broken"))).toEqual([]);
    } finally {
      github.close();
    }
  });

  it("a delivery from the label is taken once even when the drain is woken during a failure", async () => {
    const { engine, files, finish } = await inboxEngine();
    const github = fenceGitHub();
    try {
      await files.putDelivery({ deliveryId: "d1", event: requested });
      await Promise.all([engine.drainInbox(), engine.drainInbox()]);
      expect(await files.pendingDeliveries()).toEqual([]);
      expect((await files.journal(runId)).filter((e) => e.event.type === "run.requested")).toHaveLength(1);
      await finish();
    } finally {
      github.close();
    }
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the inbox in Redis", () => {
  it("hands deliveries out in arrival order, and one set aside stays readable and is still a repeat", async () => {
    const { startRedis } = await import("../kit/redis.js");
    const { RedisRunStore } = await import("../../src/store/redis.js");
    const server = await startRedis();
    const store = await RedisRunStore.connect(server.url);
    try {
      await store.putDelivery({ deliveryId: "zz-first", event: requested, receivedAt: 1 });
      await store.putDelivery({ deliveryId: "aa-second", event: { ...requested, runId: "octo/app#8" }, receivedAt: 2 });
      expect((await store.pendingDeliveries()).map((e) => e.deliveryId)).toEqual(["zz-first", "aa-second"]);
      await store.setDeliveryAside("zz-first", "EIO");
      expect((await store.pendingDeliveries()).map((e) => e.deliveryId)).toEqual(["aa-second"]);
      expect(await store.setAsideDeliveries()).toEqual([expect.objectContaining({ deliveryId: "zz-first", error: "EIO" })]);
      expect(await store.putDelivery({ deliveryId: "zz-first", event: requested })).toBe(false);
    } finally {
      await store.close();
      await server.stop();
    }
  });
});

import { Redis } from "ioredis";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/orchestrator/engine.js";
import { Monitor } from "../../src/orchestrator/monitor.js";
import { decide, defaultMachineSettings } from "../../src/orchestrator/machine.js";
import type { EffectContext } from "../../src/orchestrator/effects/index.js";
import { defaultRepoConfig, type Event, type Run } from "../../src/domain/index.js";
import { RedisRunStore } from "../../src/store/redis.js";
import { Leadership } from "../../src/store/leases.js";
import { TriggerLabels } from "../../src/store/trigger-labels.js";
import type { RunStore } from "../../src/store/run-store.js";
import type { JobQueue } from "../../src/queue/job-queue.js";
import { startRedis, type RedisServer } from "../kit/redis.js";
import { api, capture, fenceGitHub, testOctokit } from "../github/kit.js";
import { at, requested, runId } from "./fixtures.js";

/** Several app replicas on one Redis: each is an Engine (and Monitor) over its own connection. */
let server: RedisServer;
const stores: RedisRunStore[] = [];
const engines: Engine[] = [];
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  for (const e of engines.splice(0)) {
    e.stop();
    await e.idle();
  }
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server?.stop();
});

async function replicas(count: number, opts: { lockTtlMs?: number } = {}): Promise<{ prefix: string; stores: RedisRunStore[] }> {
  const prefix = `rep${++prefixes}:`;
  const made = await Promise.all([...Array(count)].map(() => RedisRunStore.connect(server.url, { prefix, ...opts })));
  stores.push(...made);
  return { prefix, stores: made };
}

/** GitHub is fenced: a request no test expects is refused, and the effect fails at once (permanently). */
const effects: EffectContext = {
  octokitFor: async () => testOctokit(),
  queue: undefined as unknown as JobQueue,
  loadRepoConfig: async () => ({ ok: true, config: defaultRepoConfig }),
  traceExcerpt: async () => "",
};
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

function engineOn(store: RedisRunStore, extra: Partial<ConstructorParameters<typeof Engine>[0]> = {}): Engine {
  const engine = new Engine({ store, effects, settings: defaultMachineSettings, log: quiet, inboxRetryMs: 5, leases: store.leases(), ...extra });
  engines.push(engine);
  return engine;
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const issue = (n: number): Event => ({ ...requested, runId: `octo/app#${n}`, deliveryId: `d-${n}`, issue: { number: n, title: `Issue ${n}`, body: "" } });

describe("two replicas draining one inbox", () => {
  it("take each delivery once", async () => {
    const github = fenceGitHub();
    try {
      const { stores: [a, b] } = await replicas(2);
      for (let n = 1; n <= 8; n++) await a!.putDelivery({ deliveryId: `d-${n}`, event: issue(n), receivedAt: n });
      const [ea, eb] = [engineOn(a!), engineOn(b!)];
      await Promise.all([ea.drainInbox(), eb.drainInbox(), ea.drainInbox(), eb.drainInbox()]);
      await until(async () => (await a!.pendingDeliveries()).length === 0);
      for (let n = 1; n <= 8; n++) {
        const taken = (await a!.journal(`octo/app#${n}`)).filter((e) => e.event.type === "run.requested");
        expect(taken, `octo/app#${n}`).toHaveLength(1);
      }
    } finally {
      github.close();
    }
  });
});

describe("an orphaned effect", () => {
  it("is not launched again while another replica holds its claim, and is once the claim expires", async () => {
    const github = fenceGitHub();
    try {
      const { prefix, stores: [a] } = await replicas(1);
      const run: Run = { ...decide(undefined, requested).run!, phase: "escalated", pending: [] };
      const effect = { kind: "addLabels" as const, key: `${runId}:addLabels:1`, labels: ["agent:blocked"] };
      await a!.save({ ...run, pending: [effect] });
      // A replica performing this effect holds its claim; it dies, so nothing renews it.
      const raw = new Redis(server.url);
      await raw.set(`${prefix}lease:effect:${effect.key}`, "other-replica", "PX", 400);
      const labelled: unknown[] = [];
      nock(api).post("/repos/octo/app/issues/7/labels", capture(labelled)).reply(200, []);
      const engine = engineOn(a!);

      expect(await engine.reviveOrphans()).toBe(0);
      await engine.idle();
      expect(labelled).toEqual([]);

      await until(async () => (await raw.exists(`${prefix}lease:effect:${effect.key}`)) === 0);
      raw.disconnect();
      expect(await engine.reviveOrphans()).toBe(1);
      await engine.idle();
      expect(labelled).toEqual([{ labels: ["agent:blocked"] }]);
      expect((await a!.load(runId))!.pending).toEqual([]);
      github.verify();
    } finally {
      github.close();
    }
  });
});

describe("a lock holder paused past its lease", () => {
  it("has its save refused, and decides its event again from the notes saved meanwhile", async () => {
    const { stores: [a, b] } = await replicas(2, { lockTtlMs: 150 });
    const created = decide(undefined, requested).run!;
    await a!.save(created);
    const loadConfig = created.pending.find((e) => e.kind === "loadConfig")!;
    let paused = false;
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    let reachedPause!: () => void;
    const atPause = new Promise<void>((r) => (reachedPause = r));
    // Replica A reads the notes, then stops dead (a GC pause: not even its lock renewal runs)
    // for longer than the lease, and stays stopped until replica B has decided and saved.
    const pausing: RunStore = new Proxy(a!, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== "loadVersioned") return typeof value === "function" ? value.bind(target) : value;
        return async (id: string) => {
          const read = await target.loadVersioned(id);
          if (!paused) {
            paused = true;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
            reachedPause();
            await resumed;
          }
          return read;
        };
      },
    });
    const warnings: string[] = [];
    const ea = engineOn(a!, { store: pausing, log: { ...quiet, warn: (_o: object, msg: string) => warnings.push(msg) } });
    const eb = engineOn(b!);
    ea.stop();
    eb.stop();

    const cancel: Event = { type: "command.received", runId, at, command: "cancel", note: "", by: "writer", source: "comment", issueNumber: 7 };
    const aSubmit = ea.submit(cancel);
    await atPause;
    await eb.submit({ type: "config.loaded", runId, at, key: loadConfig.key, config: defaultRepoConfig, defaultBranch: "main" });
    resume();
    await aSubmit;

    const notes = await a!.load(runId);
    // B's config survived: A's decision from before it was not written over it.
    expect(notes!.config).toEqual(defaultRepoConfig);
    expect(notes!.phase).toBe("cancelled");
    expect(warnings).toContain("run lock lost before the save; deciding again from the fresh notes");
    expect((await a!.journal(runId)).map((e) => e.event.type)).toEqual(["config.loaded", "command.received"]);
  });
});

describe("the monitor on two replicas", () => {
  it("reconciles on the leader only, and on another replica once the leader is gone", async () => {
    const { prefix, stores: [a, b] } = await replicas(2);
    const reconciled: string[] = [];
    const monitorOn = (store: RedisRunStore, name: string, leadership: Leadership) =>
      new Monitor({
        store,
        queue: { startedAt: () => undefined } as unknown as JobQueue,
        submit: async () => {},
        reconcile: async () => {
          reconciled.push(name);
          return [];
        },
        leads: () => leadership.leads(),
        log: quiet,
      });
    const la = new Leadership(a!.leases(), "leader:monitor", 300);
    const lb = new Leadership(b!.leases(), "leader:monitor", 300);
    const [ma, mb] = [monitorOn(a!, "a", la), monitorOn(b!, "b", lb)];
    await ma.sweep();
    await Promise.all([mb.sweep(), ma.sweep(), mb.sweep()]);
    expect(reconciled).toEqual(["a", "a"]);

    await la.resign();
    await mb.sweep();
    await ma.sweep();
    expect(reconciled).toEqual(["a", "a", "b"]);

    // A leader that died leaves its lease to expire; until then nobody else leads.
    await lb.resign();
    const raw = new Redis(server.url);
    await raw.set(`${prefix}lease:leader:monitor`, "dead-replica", "PX", 300);
    await ma.sweep();
    expect(reconciled).toEqual(["a", "a", "b"]);
    await until(async () => (await raw.exists(`${prefix}lease:leader:monitor`)) === 0);
    raw.disconnect();
    await ma.sweep();
    expect(reconciled).toEqual(["a", "a", "b", "a"]);
    await la.resign();
  });
});

describe("trigger labels in Redis", () => {
  it("a label one replica remembered is the one every replica knows", async () => {
    const { stores: [a, b] } = await replicas(2);
    const onA = new TriggerLabels(a!.triggerLabelBook(), "agent:build");
    const onB = new TriggerLabels(b!.triggerLabelBook(), "agent:build");
    await onB.load();
    expect(onB.labelFor("Octo", "App")).toBe("agent:build");
    await onA.remember("Octo", "App", "factory:go");
    await onB.load();
    expect(onB.labelFor("octo", "app")).toBe("factory:go");
    // B changes it back: A, reading again, knows.
    await onB.remember("octo", "app", "agent:build");
    await onA.load();
    expect(onA.labelFor("octo", "app")).toBe("agent:build");
  });
});

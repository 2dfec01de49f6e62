import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunSchema, type Event, type Run } from "../../src/domain/index.js";
import { RedisRunStore } from "../../src/store/redis.js";
import { requested, runId } from "../orchestrator/fixtures.js";
import { startRedis, type RedisServer } from "../kit/redis.js";
import { describeRunIndexes, describeRunStamps } from "./index-contract.js";
import { historyRun } from "../orchestrator/history-kit.js";

let server: RedisServer;
const stores: RedisRunStore[] = [];
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server?.stop();
});

/** A store over its own key prefix, so tests do not see each other's keys. */
async function store(prefix = `t${++prefixes}:`, opts: { lockTtlMs?: number } = {}): Promise<RedisRunStore> {
  const s = await RedisRunStore.connect(server.url, { prefix, ...opts });
  stores.push(s);
  return s;
}

function run(overrides: Partial<Run> = {}): Run {
  return RunSchema.parse({
    id: runId,
    repo: requested.repo,
    issue: requested.issue,
    requestedBy: "writer",
    deliveryId: "d-1",
    createdAt: requested.at,
    updatedAt: requested.at,
    phase: "planning",
    branch: "shopfloor/7",
    ...overrides,
  });
}

function eventAt(i: number): Event {
  return { ...requested, at: `2026-11-21T10:00:${String(i).padStart(2, "0")}.000Z`, deliveryId: `d-${i}` };
}

describe("RedisRunStore", () => {
  it("saves and loads a run, and lists it", async () => {
    const s = await store();
    expect(await s.load(runId)).toBeUndefined();
    const saved = run({ phase: "building", headSha: "abc" });
    await s.save(saved);
    expect(await s.load(runId)).toEqual(saved);
    expect(await s.listRuns()).toEqual([runId]);
  });

  it("keeps the journal in append order with seq numbers, across store instances", async () => {
    const prefix = "journal:";
    const a = await store(prefix);
    const b = await store(prefix);
    await a.appendJournal(runId, { at: requested.at, event: eventAt(1), effects: ["a"], phase: null });
    await b.appendJournal(runId, { at: requested.at, event: eventAt(2), effects: [], phase: "configuring" });
    await a.appendJournal(runId, { at: requested.at, event: eventAt(3), effects: [], phase: "planning", note: "n" });
    const journal = await b.journal(runId);
    expect(journal.map((e) => [e.seq, e.event.at, e.phase])).toEqual([
      [1, eventAt(1).at, null],
      [2, eventAt(2).at, "configuring"],
      [3, eventAt(3).at, "planning"],
    ]);
    expect(journal[2]?.note).toBe("n");
    expect(await a.listRuns()).toEqual([runId]);
  });

  it("stops reading the journal at an unreadable entry", async () => {
    const prefix = "torn:";
    const s = await store(prefix);
    await s.appendJournal(runId, { at: requested.at, event: eventAt(1), effects: [], phase: null });
    const raw = new Redis(server.url);
    await raw.rpush(`${prefix}journal:${runId}`, '{"seq":2,"at":"x","event":{"type":"nonsense"}}', '{"seq":3');
    raw.disconnect();
    await s.appendJournal(runId, { at: requested.at, event: eventAt(4), effects: [], phase: null });
    expect((await s.journal(runId)).map((e) => e.seq)).toEqual([1]);
  });

  it("takes a delivery once under concurrent puts from two stores, and remembers it once taken", async () => {
    const prefix = "deliveries:";
    const a = await store(prefix);
    const b = await store(prefix);
    const entry = { deliveryId: "d-9", event: eventAt(9) };
    const results = await Promise.all([...Array(10)].map((_, i) => (i % 2 ? a : b).putDelivery(entry)));
    expect(results.filter(Boolean)).toHaveLength(1);
    // The store stamps when the delivery arrived (deliveries are taken in arrival order).
    expect(await b.pendingDeliveries()).toEqual([{ ...entry, receivedAt: expect.any(Number) }]);
    await a.markDeliveryTaken("d-9");
    expect(await b.pendingDeliveries()).toEqual([]);
    expect(await b.putDelivery(entry)).toBe(false);
    expect(await a.putDelivery({ deliveryId: "d-10", event: eventAt(10) })).toBe(true);
    expect((await a.pendingDeliveries()).map((e) => e.deliveryId)).toEqual(["d-10"]);
  });

  it("records the latest progress per job", async () => {
    const s = await store();
    const p = (jobId: string, turn: number) => ({ jobId, at: requested.at, turn, toolCalls: turn, filesChanged: 0 });
    await s.recordProgress(runId, p("j1", 1));
    await s.recordProgress(runId, p("j2", 1));
    await s.recordProgress(runId, p("j1", 2));
    expect(await s.progress(runId)).toEqual({ j1: p("j1", 2), j2: p("j2", 1) });
  });

  it("never lets two stores (two processes) hold a run's lock at once", async () => {
    const prefix = "lock:";
    const a = await store(prefix);
    const b = await store(prefix);
    let holders = 0;
    let most = 0;
    const order: string[] = [];
    const critical = (name: string) => async () => {
      holders += 1;
      most = Math.max(most, holders);
      order.push(`${name}+`);
      await new Promise((r) => setTimeout(r, 30));
      order.push(`${name}-`);
      holders -= 1;
      return name;
    };
    const results = await Promise.all([
      a.withRunLock(runId, critical("a1")),
      b.withRunLock(runId, critical("b1")),
      a.withRunLock(runId, critical("a2")),
      b.withRunLock(runId, critical("b2")),
    ]);
    expect(results).toEqual(["a1", "b1", "a2", "b2"]);
    expect(most).toBe(1);
    // Every entry into the critical section is followed by its own exit, never by another entry.
    expect(order).toHaveLength(8);
    for (let i = 0; i < order.length; i += 2) expect(order[i + 1]).toBe(order[i]!.replace("+", "-"));
  });

  it("keeps the lock past its ttl while the holder lives, and frees it when the holder throws", async () => {
    const prefix = "renew:";
    const a = await store(prefix, { lockTtlMs: 150 });
    const b = await store(prefix, { lockTtlMs: 150 });
    let aDone = false;
    const slow = a.withRunLock(runId, async () => {
      await new Promise((r) => setTimeout(r, 500));
      aDone = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    await b.withRunLock(runId, async () => expect(aDone).toBe(true));
    await slow;
    await expect(a.withRunLock(runId, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await b.withRunLock(runId, async () => "free")).toBe("free");
  });

  it("takes over a lock whose holder died, once it expires", async () => {
    const prefix = "dead:";
    const raw = new Redis(server.url);
    await raw.set(`${prefix}lock:${runId}`, "dead-process", "PX", 200);
    raw.disconnect();
    const s = await store(prefix);
    expect(await s.withRunLock(runId, async () => "mine")).toBe("mine");
  });
});

describe("RedisRunStore.connect", () => {
  it("refuses a Redis that may evict keys", async () => {
    const evicting = await startRedis(["--maxmemory-policy", "allkeys-lru"]);
    try {
      await expect(RedisRunStore.connect(evicting.url)).rejects.toThrow(/maxmemory-policy "allkeys-lru".*noeviction/);
    } finally {
      await evicting.stop();
    }
  });

  it("refuses a Redis without AOF persistence", async () => {
    const volatile = await startRedis(["--appendonly", "no"]);
    try {
      await expect(RedisRunStore.connect(volatile.url)).rejects.toThrow(/appendonly "no".*AOF/);
    } finally {
      await volatile.stop();
    }
  });
});

const prefixOf = new WeakMap<object, string>();
describeRunIndexes("RedisRunStore", {
  fresh: async () => {
    const prefix = `idx${++prefixes}:`;
    const s = await store(prefix);
    prefixOf.set(s, prefix);
    return s;
  },
  reopen: async (s) => {
    const again = await store(prefixOf.get(s)!);
    prefixOf.set(again, prefixOf.get(s)!);
    return again;
  },
  forgetIndex: async (s) => {
    const prefix = prefixOf.get(s)!;
    const raw = new Redis(server.url);
    await raw.del(...["active", "watched", "retained", "prs", "runpr", "index:layout"].map((k) => prefix + k));
    raw.disconnect();
  },
});

describeRunStamps("RedisRunStore", () => store());

describe("RedisRunStore.runStamps", () => {
  it("stamps thousands of runs, across the batches it reads them in", async () => {
    const s = await store();
    const ids = Array.from({ length: 2_100 }, (_, i) => i + 1);
    await Promise.all(ids.map((issue) => s.save(historyRun(issue, "building"))));
    const before = await s.runStamps();
    expect(before.size).toBe(2_100);
    await s.save(historyRun(2_050, "planning"));
    const after = await s.runStamps();
    const changed = ids.map((i) => `octo/app#${i}`).filter((id) => after.get(id) !== before.get(id));
    expect(changed).toEqual(["octo/app#2050"]);
  });

  it("stamps notes written before versions were kept, and moves the stamp at their next save", async () => {
    const prefix = `unversioned${++prefixes}:`;
    const s = await store(prefix);
    await s.save(historyRun(1, "building"));
    const raw = new Redis(server.url);
    await raw.del(`${prefix}version:octo/app#1`);
    raw.disconnect();
    const old = (await s.runStamps()).get("octo/app#1");
    expect(old).toBeTypeOf("string");
    await s.save(historyRun(1, "planning"));
    expect((await s.runStamps()).get("octo/app#1")).not.toBe(old);
  });
});

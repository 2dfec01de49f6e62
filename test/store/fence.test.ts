import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decide } from "../../src/orchestrator/machine.js";
import { RedisRunStore } from "../../src/store/redis.js";
import type { RunLockHold } from "../../src/store/run-store.js";
import { requested, runId } from "../orchestrator/fixtures.js";
import { startRedis, type RedisServer } from "../kit/redis.js";

/** Run notes are saved by the lock holder at the version it read, or not at all. */
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

async function pair(lockTtlMs = 15_000): Promise<{ prefix: string; a: RedisRunStore; b: RedisRunStore }> {
  const prefix = `fence${++prefixes}:`;
  const [a, b] = await Promise.all([0, 1].map(() => RedisRunStore.connect(server.url, { prefix, lockTtlMs })));
  stores.push(a!, b!);
  return { prefix, a: a!, b: b! };
}

const created = () => decide(undefined, requested).run!;
const entry = { at: requested.at, event: requested, effects: [], phase: "configuring" };

describe("fenced saves in Redis", () => {
  it("count versions from 0, and a save at the version read by the holder goes through", async () => {
    const { a } = await pair();
    expect(await a.loadVersioned(runId)).toEqual({ run: undefined, version: 0 });
    await a.withRunLock(runId, async (hold) => {
      expect(await a.save(created(), { token: hold.token, version: 0 })).toBe("written");
    });
    expect(await a.loadVersioned(runId)).toEqual({ run: created(), version: 1 });
  });

  it("refuse the save of a holder whose lock expired and was taken, and leave the newer notes and indexes alone", async () => {
    const { prefix, a, b } = await pair();
    await a.save(created());
    const raw = new Redis(server.url);
    const stale = await a.withRunLock(runId, async (hold) => {
      const read = await a.loadVersioned(runId);
      // The lease ran out while this holder was paused; B took the lock and saved newer notes.
      await raw.del(`${prefix}lock:${runId}`);
      await b.withRunLock(runId, async (bHold) => {
        const fresh = await b.loadVersioned(runId);
        expect(await b.save({ ...fresh.run!, phase: "cancelled", pending: [] }, { token: bHold.token, version: fresh.version })).toBe("written");
      });
      return {
        journal: await a.appendJournal(runId, entry, hold.token),
        save: await a.save({ ...read.run!, phase: "planning" }, { token: hold.token, version: read.version }),
      };
    });
    raw.disconnect();
    expect(stale).toEqual({ journal: "stale", save: "stale" });
    expect((await a.load(runId))!.phase).toBe("cancelled");
    expect(await a.journal(runId)).toEqual([]);
    // The refused save touched no index: the cancelled run is no longer active.
    expect(await a.listActiveRuns()).toEqual([]);
  });

  it("refuse a save from the holder itself when the notes moved since it read them", async () => {
    const { a } = await pair();
    await a.save(created());
    const outcome = await a.withRunLock(runId, async (hold) => {
      const read = await a.loadVersioned(runId);
      await a.save({ ...read.run!, phase: "planning" });
      return a.save({ ...read.run!, phase: "cancelled" }, { token: hold.token, version: read.version });
    });
    expect(outcome).toBe("stale");
    expect((await a.load(runId))!.phase).toBe("planning");
  });

  it("tell a holder that its lock was lost, instead of swallowing the refused renewal", async () => {
    const { prefix, a } = await pair(90);
    const raw = new Redis(server.url);
    const lost = await a.withRunLock(runId, async (hold: RunLockHold) => {
      await raw.set(`${prefix}lock:${runId}`, "another-holder", "PX", 5_000);
      await new Promise<void>((resolve) => hold.lost.addEventListener("abort", () => resolve(), { once: true }));
      return hold.lost.reason as Error;
    });
    expect(lost.message).toMatch(/held by another holder/);
    // Releasing never removes the new holder's lock.
    expect(await raw.get(`${prefix}lock:${runId}`)).toBe("another-holder");
    raw.disconnect();
  });
});

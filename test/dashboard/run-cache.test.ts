import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Run } from "../../src/domain/index.js";
import { RunSummaries } from "../../src/dashboard/run-cache.js";
import { FileRunStore } from "../../src/store/file.js";
import { RedisRunStore } from "../../src/store/redis.js";
import type { RunStore } from "../../src/store/run-store.js";
import { startRedis, type RedisServer } from "../kit/redis.js";
import { countingLoads, historyRun } from "../orchestrator/history-kit.js";
import { deferred } from "../queue/bull-kit.js";

let redis: RedisServer;
const dirs: string[] = [];
const closing: RedisRunStore[] = [];
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(closing.map((s) => s.close()));
  await redis?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Two handles on one store's data, as two replicas (or a restart) would hold them. */
interface Replicas {
  a: RunStore;
  b: RunStore;
}

const backends: { name: string; replicas: () => Promise<Replicas> }[] = [
  {
    name: "file store",
    replicas: async () => {
      const dir = await mkdtemp(join(tmpdir(), "shopfloor-run-cache-"));
      dirs.push(dir);
      return { a: new FileRunStore(dir), b: new FileRunStore(dir) };
    },
  },
  {
    name: "Redis store",
    replicas: async () => {
      const prefix = `cache${++prefixes}:`;
      const [a, b] = await Promise.all([RedisRunStore.connect(redis.url, { prefix }), RedisRunStore.connect(redis.url, { prefix })]);
      closing.push(a, b);
      return { a, b };
    },
  },
];

const summary = (run: Run) => ({ id: run.id, phase: run.phase, title: run.issue.title });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `octo/app#${i + 1}`);

describe.each(backends)("RunSummaries over the $name", ({ replicas }) => {
  it("loads every run once, then only runs whose notes were saved since, including saves by another replica", async () => {
    const { a, b } = await replicas();
    for (let issue = 1; issue <= 5; issue++) await a.save(historyRun(issue, "building"));
    const counted = countingLoads(b);
    const summaries = new RunSummaries(counted.store, summary);

    const first = await summaries.all();
    expect(first.map((s) => s.id).sort()).toEqual(ids(5));
    expect(counted.loads.sort()).toEqual(ids(5));

    counted.loads.length = 0;
    expect(await summaries.all()).toEqual(first);
    expect(counted.loads).toEqual([]);

    await a.save(historyRun(3, "reviewing"));
    await a.save(historyRun(6, "planning"));
    const third = await summaries.all();
    expect(counted.loads.sort()).toEqual(["octo/app#3", "octo/app#6"]);
    expect(third.find((s) => s.id === "octo/app#3")?.phase).toBe("reviewing");
    expect(third.map((s) => s.id).sort()).toEqual(ids(6));
  });

  it("shares one refresh between calls made together", async () => {
    const { a } = await replicas();
    for (let issue = 1; issue <= 4; issue++) await a.save(historyRun(issue, "building"));
    const counted = countingLoads(a);
    const summaries = new RunSummaries(counted.store, summary);
    const answers = await Promise.all([summaries.all(), summaries.all(), summaries.all()]);
    expect(counted.loads.sort()).toEqual(ids(4));
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it("answers a call made during a refresh with notes saved before that call, not with the refresh already under way", async () => {
    const { a } = await replicas();
    await a.save(historyRun(1, "building"));
    const gate = deferred();
    let held = false;
    const slow: Pick<RunStore, "runStamps" | "load"> = {
      runStamps: () => a.runStamps(),
      load: async (id) => {
        const run = await a.load(id);
        if (!held) {
          held = true;
          await gate.promise;
        }
        return run;
      },
    };
    const summaries = new RunSummaries(slow, summary);
    const early = summaries.all();
    await expect.poll(() => held).toBe(true);
    await a.save(historyRun(1, "gated"));
    const late = summaries.all();
    gate.resolve();
    expect((await early).map((s) => s.phase)).toEqual(["building"]);
    expect((await late).map((s) => s.phase)).toEqual(["gated"]);
  });
});

describe("RunSummaries under a stream of calls", () => {
  it("never refreshes twice at once, even when calls land as a refresh ends", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shopfloor-run-cache-"));
    dirs.push(dir);
    const store = new FileRunStore(dir);
    for (let issue = 1; issue <= 3; issue++) await store.save(historyRun(issue, "building"));
    let now = 0;
    let most = 0;
    const watched: Pick<RunStore, "runStamps" | "load"> = {
      runStamps: async () => {
        most = Math.max(most, ++now);
        try {
          return await store.runStamps();
        } finally {
          now--;
        }
      },
      load: (id) => store.load(id),
    };
    const summaries = new RunSummaries(watched, summary);
    // Every answer triggers the next calls at once, as an SSE fan-out after a save would.
    const chain = (depth: number): Promise<unknown> =>
      depth === 0 ? Promise.resolve() : Promise.all([summaries.all().then(() => chain(depth - 1)), summaries.all()]);
    await Promise.all([chain(6), chain(6), summaries.all()]);
    expect(most).toBe(1);
  });
});

describe("RunSummaries over the file store", () => {
  it("drops a run that is gone, and keeps listing the others when one run's notes cannot be read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shopfloor-run-cache-"));
    dirs.push(dir);
    const store = new FileRunStore(dir);
    for (let issue = 1; issue <= 3; issue++) await store.save(historyRun(issue, "building"));
    const summaries = new RunSummaries(store, summary);
    expect((await summaries.all()).map((s) => s.id).sort()).toEqual(ids(3));

    await rm(join(dir, "runs", "octo", "app", "2"), { recursive: true });
    await writeFile(join(dir, "runs", "octo", "app", "3", "run.json"), "{ torn");
    expect((await summaries.all()).map((s) => s.id)).toEqual(["octo/app#1"]);

    // Once the notes are whole again, the run is back.
    await store.save(historyRun(3, "gated"));
    expect((await summaries.all()).map((s) => [s.id, s.phase])).toEqual([
      ["octo/app#1", "building"],
      ["octo/app#3", "gated"],
    ]);
  });
});

/**
 * Cost against history: a store holding 10 and then 10,000 finished runs (1,000 with --quick),
 * plus the same few active and gated ones, is swept by the monitor (with the engine's orphan
 * check, as in production) and asked the PR-comment question "which run is PR #n?"
 * (`isRunIssue`: the issue itself, then the PR index). Both must read as many run notes with the
 * long history as with 10 (the goal); their median times stand next to the 10-run anchor. The
 * file store runs on /dev/shm when there is one, the Redis store on a real redis-server when one
 * is installed. The old comment lookup (a scan of every run) is timed once, in the log.
 * Throws only if a sweep or a lookup found the wrong run.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Run } from "../src/domain/index.js";
import { Engine } from "../src/orchestrator/engine.js";
import type { EffectContext } from "../src/orchestrator/effects/index.js";
import { defaultMachineSettings } from "../src/orchestrator/machine.js";
import { Monitor } from "../src/orchestrator/monitor.js";
import { FileRunStore } from "../src/store/file.js";
import { RedisRunStore } from "../src/store/redis.js";
import type { RunStore } from "../src/store/run-store.js";
import { startRedis } from "../test/kit/redis.js";
import { countingLoads, historyRun, idleQueue, quietLog } from "../test/orchestrator/history-kit.js";
import { defineBench, round, type Row } from "./kit/figure.js";

const SWEEPS = 30;
const LOOKUPS = 300;
const ACTIVE = 5;

interface Figure {
  store: string;
  finished: number;
  sweepMs: number;
  sweepLoads: number;
  lookupMs: number;
  lookupLoads: number;
  scanLookupMs: number;
}

/** A finished run of every kind that history holds: merged, closed, escalated without a PR. */
function finishedRun(i: number): Run {
  const issue = 10_000 + i;
  if (i % 3 === 0) return historyRun(issue, "escalated");
  return historyRun(issue, i % 3 === 1 ? "done" : "cancelled", { pr: { number: 100_000 + i, url: "u" } });
}

async function fill(store: RunStore, finished: number): Promise<void> {
  for (let from = 0; from < finished; from += 200) {
    const batch = [...Array(Math.min(200, finished - from)).keys()].map((k) => store.save(finishedRun(from + k)));
    await Promise.all(batch);
  }
  for (let i = 1; i <= ACTIVE; i++) await store.save(historyRun(i, i % 2 ? "building" : "reviewing", i % 2 ? {} : { pr: { number: 900 + i, url: "u" } }));
  await store.save(historyRun(50, "gated", { pr: { number: 950, url: "u" } }));
}

/** What `isRunIssue` in src/index.ts asks for a comment on PR #n. */
async function whichRun(store: RunStore, prNumber: number): Promise<number | undefined> {
  if (await store.load(`octo/app#${prNumber}`)) return prNumber;
  const runId = await store.runForPr("octo", "app", prNumber);
  return runId === undefined ? undefined : Number(runId.slice(runId.lastIndexOf("#") + 1));
}

/** The lookup as it was: every run read until one has the PR. */
async function whichRunByScan(store: RunStore, prNumber: number): Promise<number | undefined> {
  for (const runId of await store.listRuns()) {
    const run = await store.load(runId);
    if (run?.pr?.number === prNumber) return run.issue.number;
  }
  return undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function measure(name: string, backing: RunStore, finished: number): Promise<Figure> {
  await fill(backing, finished);
  const { store, loads } = countingLoads(backing);
  const engine = new Engine({ store, effects: {} as EffectContext, settings: defaultMachineSettings, log: quietLog });
  const monitor = new Monitor({ store, queue: idleQueue, submit: () => Promise.resolve(), reviveOrphans: () => engine.reviveOrphans(), log: quietLog });

  await monitor.sweep(); // warm caches and the index's first-use check
  const sweepTimes: number[] = [];
  loads.length = 0;
  for (let i = 0; i < SWEEPS; i++) {
    const t = performance.now();
    await monitor.sweep();
    sweepTimes.push(performance.now() - t);
  }
  const sweepLoads = loads.length / SWEEPS;

  const lookupTimes: number[] = [];
  loads.length = 0;
  for (let i = 0; i < LOOKUPS; i++) {
    const t = performance.now();
    const issue = await whichRun(store, 902);
    lookupTimes.push(performance.now() - t);
    if (issue !== 2) throw new Error(`${name}: PR #902 should be issue 2's, got ${issue}`);
  }
  const lookupLoads = loads.length / LOOKUPS;
  // The PR of an old finished run: as cheap, and still found (it is pruned only after retention).
  if ((await whichRun(store, 100_001)) !== 10_001) throw new Error(`${name}: PR #100001 should be issue 10001's`);

  const t = performance.now();
  if ((await whichRunByScan(backing, 902)) !== 2) throw new Error(`${name}: the scan did not find PR #902`);
  const scanLookupMs = performance.now() - t;
  return { store: name, finished, sweepMs: median(sweepTimes), sweepLoads, lookupMs: median(lookupTimes), lookupLoads, scanLookupMs };
}

/** The file store on /dev/shm when there is one (filling it is quick; sweeps read the page cache either way). */
async function onFiles(finished: number): Promise<Figure> {
  const dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "bench-history-"));
  try {
    return await measure("file", new FileRunStore(dir), finished);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function onRedis(histories: number[]): Promise<Figure[]> {
  const server = await startRedis();
  try {
    const figures: Figure[] = [];
    for (const finished of histories) {
      const store = await RedisRunStore.connect(server.url, { prefix: `bench${finished}:` });
      try {
        figures.push(await measure("redis", store, finished));
      } finally {
        await store.close();
      }
    }
    return figures;
  } finally {
    await server.stop();
  }
}

export default defineBench({
  title: "monitor sweep and PR-comment lookup against finished history",
  async run({ quick, log }) {
    const histories = [10, quick ? 1_000 : 10_000];
    const figures: Figure[] = [];
    for (const finished of histories) figures.push(await onFiles(finished));
    if (existsSync("/usr/bin/redis-server")) figures.push(...(await onRedis(histories)));
    else log("no /usr/bin/redis-server: the Redis store is not measured");
    for (const f of figures) {
      log(`${f.store} with ${f.finished} finished: sweep ${f.sweepMs.toFixed(2)} ms (${f.sweepLoads} notes read), lookup ${f.lookupMs.toFixed(3)} ms (${f.lookupLoads} read); the old scan took ${f.scanLookupMs.toFixed(1)} ms`);
    }
    const rows: Row[] = [];
    for (const name of new Set(figures.map((f) => f.store))) {
      const [small, large] = histories.map((n) => figures.find((f) => f.store === name && f.finished === n)!) as [Figure, Figure];
      const same = small.sweepLoads === large.sweepLoads && small.lookupLoads === large.lookupLoads;
      const goal = "notes read as with 10";
      const with_ = `${large.finished.toLocaleString("en-US")} finished runs`;
      rows.push(
        { name: `${name} store: monitor sweep, ${with_}`, value: round(large.sweepMs, 2), unit: "ms", anchor: { name: "10 finished", value: round(small.sweepMs, 2) }, goal, ok: same, note: `${ACTIVE} active runs and 1 gated; ${large.sweepLoads} notes read per sweep` },
        { name: `${name} store: which run is PR #n, ${with_}`, value: round(large.lookupMs, 3), unit: "ms", anchor: { name: "10 finished", value: round(small.lookupMs, 3) }, goal, ok: same },
      );
    }
    return rows;
  },
});

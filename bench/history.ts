/**
 * Cost against history: `tsx bench/history.ts [--json]`. A store holding 10 and then 10,000
 * finished runs (plus the same few active and gated ones) is swept by the monitor (with the
 * engine's orphan check, as in production) and asked the PR-comment question "which run is
 * PR #n?" (`isRunIssue`: the issue itself, then the PR index). Both must cost the same with
 * 10,000 finished runs as with 10: the figures printed are the median time and the number of
 * run notes read. The file store runs on /dev/shm when there is one (filling it is then quick;
 * the sweep reads from the page cache either way), and the Redis store on a real redis-server
 * when one is installed. For contrast, the old comment lookup (a scan of every run) is timed once.
 * Exits non-zero only if a sweep or a lookup went wrong; it asserts no timing.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
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

// Other benchmarks' arguments (`--trials`) come through `npm run bench` too: ignore them.
const { values } = parseArgs({ options: { json: { type: "boolean", default: false } }, strict: false });
const json = values.json === true;

const HISTORIES = [10, 10_000];
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

const figures: Figure[] = [];
const shm = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
for (const finished of HISTORIES) {
  const dir = await mkdtemp(join(shm, "bench-history-"));
  try {
    figures.push(await measure("file", new FileRunStore(dir), finished));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
if (existsSync("/usr/bin/redis-server")) {
  const server = await startRedis();
  try {
    for (const finished of HISTORIES) {
      const store = await RedisRunStore.connect(server.url, { prefix: `bench${finished}:` });
      try {
        figures.push(await measure("redis", store, finished));
      } finally {
        await store.close();
      }
    }
  } finally {
    await server.stop();
  }
} else {
  console.log("no /usr/bin/redis-server: the Redis store is not measured");
}

console.log(`monitor sweep and PR-comment lookup, ${ACTIVE} active runs and 1 gated, against finished history`);
console.log("store  finished  sweep ms  notes read/sweep  lookup ms  notes read/lookup  old scan lookup ms");
for (const f of figures) {
  console.log(
    `${f.store.padEnd(6)} ${String(f.finished).padStart(8)}  ${f.sweepMs.toFixed(2).padStart(8)}  ${String(f.sweepLoads).padStart(15)}  ${f.lookupMs.toFixed(3).padStart(9)}  ${String(f.lookupLoads).padStart(17)}  ${f.scanLookupMs.toFixed(1).padStart(18)}`,
  );
}
for (const name of new Set(figures.map((f) => f.store))) {
  const [small, large] = [HISTORIES[0], HISTORIES[1]].map((n) => figures.find((f) => f.store === name && f.finished === n)!);
  const same = small!.sweepLoads === large!.sweepLoads && small!.lookupLoads === large!.lookupLoads;
  console.log(
    `${name}: notes read are ${same ? "the same" : "NOT the same"} with ${large!.finished} finished runs as with ${small!.finished}; ` +
      `time ×${(large!.sweepMs / small!.sweepMs).toFixed(2)} per sweep, ×${(large!.lookupMs / small!.lookupMs).toFixed(2)} per lookup`,
  );
}
if (json) console.log(JSON.stringify({ bench: "history", figures }));

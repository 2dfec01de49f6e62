/**
 * Restart with 100 unfinished runs (10 with --quick): the real app starts on a state directory
 * holding runs that a crash left in planning, building and reviewing, each with its job(s) sent
 * and never answered. Timed from the start of the app to the moment it listens with every run
 * resumed: each lost job answered `worker_lost` in its journal and its retry scheduled (the
 * in-process queue lost everything with the process). The anchor is the same start on an empty
 * state directory. Goal: under 1 s.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { run } from "probot";
import { createShopfloor, type Shopfloor } from "../src/index.js";
import { FileRunStore } from "../src/store/file.js";
import { freePort } from "../test/kit/port.js";
import { defineBench, median, round, timed } from "./kit/figure.js";
import { unfinishedPhases, unfinishedRun } from "./kit/unfinished-runs.js";

const GOAL_MS = 1_000;
const repo = { owner: "bench", name: "restart", installationId: 42 };
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });

async function fill(stateDir: string, runs: number): Promise<string[]> {
  const store = new FileRunStore(stateDir);
  const ids: string[] = [];
  for (let i = 1; i <= runs; i++) {
    const notes = unfinishedRun(repo, i, unfinishedPhases[i % unfinishedPhases.length]!);
    await store.save(notes);
    ids.push(notes.id);
  }
  return ids;
}

/** Starts the app on `root`'s state, as `npm start` would, and stops it once it is ready; the time to ready. */
async function restart(root: string): Promise<number> {
  const port = await freePort();
  const env: Record<string, string> = {
    APP_ID: "1234",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: "bench",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "fatal",
    SHOPFLOOR_STATE_DIR: join(root, "state"),
    SHOPFLOOR_WORK_DIR: join(root, "work"),
    SHOPFLOOR_RECONCILE_EVERY: "0",
    // The retries resume schedules stay scheduled while this bench looks, then stop with the app.
    SHOPFLOOR_RETRY_BASE_MS: "600000",
  };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let shopfloor: Shopfloor | undefined;
  try {
    const { ms, value: server } = await timed(() => run(createShopfloor((s) => (shopfloor = s)), { env }));
    shopfloor!.monitor.stop();
    shopfloor!.engine.stop();
    await shopfloor!.engine.idle();
    await server.stop();
    return ms;
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** Every run came back: each lost job was answered in its journal after the restart. */
async function checkResumed(stateDir: string, ids: string[]): Promise<void> {
  const store = new FileRunStore(stateDir);
  for (const id of ids) {
    const lost = (await store.journal(id)).filter((e) => e.event.type === "job.failed" && e.event.failure.reason === "worker_lost");
    if (lost.length === 0) throw new Error(`${id} was not resumed: no worker_lost answer in its journal`);
  }
}

export default defineBench({
  title: "restart with unfinished runs",
  async run({ quick, log }) {
    const runs = quick ? 10 : 100;
    const repeats = quick ? 1 : 3;
    // No GitHub here: a start that reached for it would fail loudly instead of waiting on the network.
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    const empty: number[] = [];
    const loaded: number[] = [];
    for (let i = 0; i < repeats; i++) {
      for (const count of [0, runs]) {
        const root = await mkdtemp(join(tmpdir(), "bench-restart-"));
        try {
          const ids = await fill(join(root, "state"), count);
          const ms = await restart(root);
          await checkResumed(join(root, "state"), ids);
          (count === 0 ? empty : loaded).push(ms);
          log(`start with ${count} unfinished runs: ${round(ms, 0)} ms`);
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      }
    }
    const value = round(median(loaded), 0);
    return [
      {
        name: `restart with ${runs} unfinished runs, until all resumed`,
        value,
        unit: "ms",
        anchor: { name: "same start, no runs", value: round(median(empty), 0) },
        goal: `< ${GOAL_MS} ms`,
        ok: value < GOAL_MS,
        note: `median of ${repeats}; runs in planning, building and reviewing, each lost job answered worker_lost and its retry scheduled`,
      },
    ];
  },
});

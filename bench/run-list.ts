/**
 * Mission Control's run list with 1,000 runs in the store.
 * The real handler on a real HTTP server over a real store (file store; Redis too when
 * redis-server is installed), signed in as a person who may read every repository (their
 * answers cached, as the sign-in caches them). Timed server-side, from the request's arrival to
 * the response's last byte: the first render (every run loaded and summarized) and the warm
 * renders a person gets afterwards (a stat or one MGET per run). Goal: under 200 ms warm.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { PhaseSchema, type Run } from "../src/domain/index.js";
import { missionControlHandler, type SignIn } from "../src/dashboard/mission-control.js";
import { RunSummaries } from "../src/dashboard/run-cache.js";
import { summarizeRun } from "../src/dashboard/summary.js";
import { FileRunStore } from "../src/store/file.js";
import { RedisRunStore } from "../src/store/redis.js";
import type { RunStore } from "../src/store/run-store.js";
import { startRedis } from "../test/kit/redis.js";
import { historyRun } from "../test/orchestrator/history-kit.js";
import { plan } from "../test/e2e/scenario.js";
import { defineBench, round, type Row } from "./kit/figure.js";

const RUNS = 1_000;
const GOAL_MS = 200;

/** Runs as a busy organisation holds them: twenty repositories, every phase, a plan, spend and a gate. */
function realisticRun(i: number): Run {
  const phases = PhaseSchema.options;
  const phase = phases[i % phases.length]!;
  const at = new Date(Date.UTC(2026, 10, 17 + (i % 14), 9, i % 60)).toISOString();
  const usage = Array.from({ length: 12 }, (_, k) => ({
    provider: k % 2 ? "openai" : "anthropic",
    model: k % 2 ? "gpt-5.4" : "claude-sonnet-5-5",
    inputTokens: 4_000 + k,
    outputTokens: 600,
    cachedTokens: 0,
    costUsd: 0.02,
    role: ["planner", "generate", "reviewer"][k % 3]!,
    at,
  }));
  return historyRun(i + 1, phase, {
    id: `org/repo-${i % 20}#${i + 1}`,
    repo: { owner: "org", name: `repo-${i % 20}`, installationId: 42 },
    createdAt: at,
    updatedAt: at,
    plan: { ...plan, risk: "low" } as Run["plan"],
    usage,
    gate: { conclusion: phase === "gated" ? "success" : undefined, items: [{ item: "Tests pass", state: "pass", evidence: "npm test exited 0" }] },
    ...(phase === "escalated" && { failure: { class: "permanent", reason: "blocked", detail: "the brief does not say which style" }, question: "Which style?" }),
  });
}

const everyone: SignIn = {
  handle: async () => false,
  viewer: () => ({ login: "lead", token: "gho_bench", sid: "bench" }),
  csrfToken: () => "csrf",
  checkCsrf: () => true,
  canRead: async () => true,
};

async function measure(name: string, store: RunStore, renders: number): Promise<{ store: string; runs: number; firstMs: number; p50Ms: number; p99Ms: number; bytes: number }> {
  for (let i = 0; i < RUNS; i++) await store.save(realisticRun(i));
  const summaries = new RunSummaries(store, (run) => summarizeRun(run, { webUrl: "https://github.com" }));
  const handler = missionControlHandler({
    store,
    summaries: () => summaries.all(),
    auth: everyone,
    webUrl: "https://github.com",
    queueHealth: async () => ({ waiting: 0, oldestWaitingMs: undefined, activeByRunner: {} }),
    redact: (text) => text,
    act: async () => ({ ok: true, text: "" }),
    liveIntervalMs: 1_000,
  });
  const timings: number[] = [];
  const server = createServer((req, res) => {
    const started = performance.now();
    res.on("finish", () => timings.push(performance.now() - started));
    void handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/shopfloor`;
  let bytes = 0;
  for (let i = 0; i <= renders; i++) bytes = (await (await fetch(url)).text()).length;
  server.close();
  const [first, ...warm] = timings;
  warm.sort((a, b) => a - b);
  const pick = (q: number) => warm[Math.min(warm.length - 1, Math.floor(q * warm.length))]!;
  return { store: name, runs: RUNS, firstMs: first!, p50Ms: pick(0.5), p99Ms: pick(0.99), bytes };
}

export default defineBench({
  title: `Mission Control run list, ${RUNS} runs in the store`,
  async run({ quick, log }) {
    const renders = quick ? 10 : 50;
    const figures = [];
    const dir = await mkdtemp(join(tmpdir(), "shopfloor-bench-list-"));
    try {
      figures.push(await measure("file", new FileRunStore(dir), renders));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const redis = await startRedis().catch(() => undefined);
    if (redis) {
      const store = await RedisRunStore.connect(redis.url);
      try {
        figures.push(await measure("redis", store, renders));
      } finally {
        await store.close();
        await redis.stop();
      }
    } else log("no redis-server: the Redis store is not measured");
    return figures.flatMap((f): Row[] => [
      { name: `${f.store} store: first render`, value: round(f.firstMs, 0), unit: "ms", note: `server-side, ${(f.bytes / 1024).toFixed(0)} KiB page; ${renders} warm renders` },
      { name: `${f.store} store: warm render p99`, value: round(f.p99Ms, 1), unit: "ms", anchor: { name: "warm p50", value: round(f.p50Ms, 1) }, goal: `< ${GOAL_MS} ms`, ok: f.p99Ms < GOAL_MS },
    ]);
  },
});

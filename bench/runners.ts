/**
 * Runner throughput: `tsx bench/runners.ts [--json] [--quick]`. Runs completed per minute with
 * 1, 2 and 4 runner processes on one real redis-server, and the Redis commands each run costs
 * (INFO commandstats before and after, every client counted: app side, runners, events).
 *
 * What is measured, said plainly: not whole end-to-end runs (a run also needs git, worktrees and
 * the sandbox, which would measure this machine's disk instead of the queue), but BullMQ jobs of
 * a realistic handler — one model call through the real `openai` client to the scripted model
 * server, which answers after 500 ms — sent by `BullJobQueue` exactly as the engine sends jobs and
 * taken by `startRunner` in separate processes, as `shopfloor runner` nodes take them. Each runner
 * takes SHOPFLOOR_RUNNER_CONCURRENCY's default of 2 at once. The goal (4 runners at least 3.5
 * times 1 runner) is printed, not asserted; the exit code is non-zero only if a job failed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import OpenAI from "openai";
import type { Job, JobOutcome } from "../src/domain/index.js";
import { BullJobQueue, startRunner } from "../src/queue/bullmq.js";
import { startModelServer } from "../test/kit/model-server.js";
import { startRedis } from "../test/kit/redis.js";

// Other benchmarks' arguments (`--trials`) come through `npm run bench` too: ignore them.
const { values } = parseArgs({
  options: { json: { type: "boolean", default: false }, quick: { type: "boolean", default: false }, child: { type: "boolean", default: false } },
  strict: false,
});

/** The model's answer time: what a job waits on, as agents wait on their models. */
const modelDelayMs = 500;
/** Jobs each runner takes at once (SHOPFLOOR_RUNNER_CONCURRENCY's default). */
const concurrency = 2;
const runnerCounts = [1, 2, 4] as const;
/** Rounds of the largest pool: every pool gets the same jobs, a whole number of rounds for each. */
const rounds = values.quick ? 2 : 8;
const jobCount = Math.max(...runnerCounts) * concurrency * rounds;
const goal = 3.5;
const model = "bench-planner";

/** A runner process: `startRunner` with a handler that asks the model once per job. */
async function runnerNode(): Promise<void> {
  const env = process.env;
  const client = new OpenAI({ baseURL: `${env.BENCH_MODEL_URL}/v1`, apiKey: "bench", maxRetries: 0 });
  const runner = startRunner({
    connection: { url: env.BENCH_REDIS_URL! },
    queueName: env.BENCH_QUEUE!,
    name: env.BENCH_RUNNER_NAME!,
    concurrency,
    handler: async (job, signal): Promise<JobOutcome> => {
      const reply = await client.chat.completions.create({ model, messages: [{ role: "user", content: `plan ${job.jobId}` }] }, { signal });
      const usage = [{ provider: "openai", model, inputTokens: reply.usage?.prompt_tokens ?? 0, outputTokens: reply.usage?.completion_tokens ?? 0, cachedTokens: 0, costUsd: null }];
      return { ok: true, output: { kind: "plan", baseSha: "base0", usage, plan: benchPlan(reply.choices[0]?.message.content ?? "") } };
    },
  });
  await runner.worker.waitUntilReady();
  process.once("SIGTERM", () => void runner.close().then(() => process.exit(0)));
  process.stdout.write("ready\n");
}

interface Figures {
  runners: number;
  jobs: number;
  seconds: number;
  runsPerMinute: number;
  redisCommandsPerRun: number;
  failed: number;
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const models = await startModelServer({ [model]: Array.from({ length: jobCount * runnerCounts.length }, () => ({ text: "a plan" })) });
  const slow = await delayedFront(models.url, modelDelayMs);
  const stats = new Redis(redis.url);
  const results: Figures[] = [];
  try {
    for (const runners of runnerCounts) results.push(await measure(runners, { redisUrl: redis.url, modelUrl: slow.url, stats }));
  } finally {
    stats.disconnect();
    await new Promise((done) => slow.server.close(done));
    await models.close();
    await redis.stop();
  }
  const base = results[0]!.runsPerMinute;
  const speedup = results.at(-1)!.runsPerMinute / base;
  const what = `BullMQ jobs whose handler makes one model call answering after ${modelDelayMs} ms (not whole end-to-end runs), ${concurrency} at a time per runner process`;
  if (values.json) {
    console.log(JSON.stringify({ measured: what, jobs: jobCount, results, speedup4v1: round(speedup, 2), goal }, null, 2));
  } else {
    console.log(`runner throughput: ${what}`);
    console.log("runners  jobs  seconds  runs/min  redis cmds/run  speed-up  failed");
    for (const r of results) {
      console.log(
        [pad(r.runners, 7), pad(r.jobs, 4), pad(r.seconds.toFixed(2), 7), pad(r.runsPerMinute.toFixed(0), 8), pad(r.redisCommandsPerRun.toFixed(1), 14), pad(`${(r.runsPerMinute / base).toFixed(2)}x`, 8), pad(r.failed, 6)].join("  "),
      );
    }
    console.log(`4 runners vs 1: ${speedup.toFixed(2)}x (goal: at least ${goal}x) ${speedup >= goal ? "met" : "NOT met"}`);
  }
  process.exitCode = results.every((r) => r.failed === 0) ? 0 : 1;
}

async function measure(runners: number, opts: { redisUrl: string; modelUrl: string; stats: Redis }): Promise<Figures> {
  const queueName = `bench-runners-${runners}`;
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < runners; i++) children.push(await spawnRunner({ ...opts, queueName, name: `bench-${runners}-${i + 1}` }));
    const queue = new BullJobQueue({ connection: { url: opts.redisUrl }, queueName });
    // Connected before the clock starts: the figure is throughput, not start-up.
    await queue.health();
    const before = await commandCalls(opts.stats);
    const started = performance.now();
    const outcomes = await Promise.all(Array.from({ length: jobCount }, (_, n) => queue.run(benchJob(`${queueName}:${n}`))));
    const seconds = (performance.now() - started) / 1000;
    const after = await commandCalls(opts.stats);
    await queue.close();
    return {
      runners,
      jobs: jobCount,
      seconds: round(seconds, 2),
      runsPerMinute: round((jobCount / seconds) * 60, 1),
      // The two INFO calls themselves are in the difference; two commands in thousands.
      redisCommandsPerRun: round((after - before) / jobCount, 1),
      failed: outcomes.filter((o) => !o.ok).length,
    };
  } finally {
    await Promise.all(children.map(stop));
  }
}

function spawnRunner(opts: { redisUrl: string; modelUrl: string; queueName: string; name: string }): Promise<ChildProcess> {
  const self = fileURLToPath(import.meta.url);
  const env = { ...process.env, BENCH_REDIS_URL: opts.redisUrl, BENCH_MODEL_URL: opts.modelUrl, BENCH_QUEUE: opts.queueName, BENCH_RUNNER_NAME: opts.name };
  const child = spawn(process.execPath, ["--import", "tsx", self, "--child"], { env, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`runner ${opts.name} exited with ${code} before it was ready`)));
    child.stdout!.on("data", (b: Buffer) => {
      if (b.toString().includes("ready")) resolve(child);
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.removeAllListeners("exit");
    child.once("exit", () => done());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
  });
}

/** Every command Redis has served since it started, all clients together. */
async function commandCalls(redis: Redis): Promise<number> {
  const text = await redis.info("commandstats");
  return [...text.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** A loopback front that holds each request for `delayMs`, then hands it to the scripted model server. */
async function delayedFront(target: string, delayMs: number): Promise<{ url: string; server: Server }> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      setTimeout(() => {
        const upstream = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on("error", () => res.writeHead(502).end());
        upstream.end(Buffer.concat(chunks));
      }, delayMs);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function benchJob(jobId: string): Job {
  return {
    kind: "plan",
    jobId,
    runId: "bench/app#1",
    repo: { owner: "bench", name: "app", installationId: 1 },
    attempt: 1,
    defaultBranch: "main",
    issue: { number: 1, title: "Add farewell()", body: "Please." },
  };
}

function benchPlan(summary: string) {
  return {
    summary,
    risk: "low" as const,
    subtasks: [{ id: "impl", role: "generate" as const, title: "Implement", brief: "Write it", files: ["a.js"], dependsOn: [], assertions: ["A1"] }],
    contract: { assertions: [{ id: "A1", text: "it works", check: { kind: "command" as const, command: "npm test" } }] },
  };
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;
const pad = (v: string | number, width: number): string => String(v).padStart(width);

if (values.child) await runnerNode();
else await main();

/**
 * Runner throughput: runs completed per minute with 1, 2 and 4 runner processes on one real
 * redis-server, and the Redis commands each run costs (INFO commandstats before and after, every
 * client counted: app side, runners, events).
 *
 * What is measured, said plainly: not whole end-to-end runs (a run also needs git, worktrees and
 * the sandbox, which would measure this machine's disk instead of the queue), but BullMQ jobs of
 * a realistic handler — one model call through the real `openai` client to the scripted model
 * server, which answers after 500 ms — sent by `BullJobQueue` exactly as the engine sends jobs and
 * taken by `startRunner` in separate processes (bench/kit/runner-node.ts), as `shopfloor runner`
 * nodes take them, 2 at a time each. Goal: 4 runners at least 3.5 times 1 runner.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import type { Job } from "../src/domain/index.js";
import { BullJobQueue } from "../src/queue/bullmq.js";
import { startModelServer } from "../test/kit/model-server.js";
import { startRedis } from "../test/kit/redis.js";
import { defineBench, round, type Row } from "./kit/figure.js";
import { benchModel, runnerConcurrency } from "./kit/runner-node.js";

/** The model's answer time: what a job waits on, as agents wait on their models. */
const modelDelayMs = 500;
const runnerCounts = [1, 2, 4] as const;
const GOAL_SPEEDUP = 3.5;

interface Measured {
  runners: number;
  runsPerMinute: number;
  redisCommandsPerRun: number;
}

export default defineBench({
  title: "runner throughput with 1, 2 and 4 runner processes",
  async run({ quick, log }) {
    // Rounds of the largest pool: every pool gets the same jobs, a whole number of rounds for each.
    const jobCount = Math.max(...runnerCounts) * runnerConcurrency * (quick ? 2 : 8);
    const redis = await startRedis();
    const models = await startModelServer({ [benchModel]: Array.from({ length: jobCount * runnerCounts.length }, () => ({ text: "a plan" })) });
    const slow = await delayedFront(models.url, modelDelayMs);
    const stats = new Redis(redis.url);
    const results: Measured[] = [];
    try {
      for (const runners of runnerCounts) {
        results.push(await measure(runners, jobCount, { redisUrl: redis.url, modelUrl: slow.url, stats }));
        log(`${runners} runner(s): ${results.at(-1)!.runsPerMinute} runs/min, ${results.at(-1)!.redisCommandsPerRun} Redis commands per run`);
      }
    } finally {
      stats.disconnect();
      await new Promise((done) => slow.server.close(done));
      await models.close();
      await redis.stop();
    }
    const one = results[0]!.runsPerMinute;
    const note = `${jobCount} BullMQ jobs per pool, each one model call answering after ${modelDelayMs} ms (not whole runs), ${runnerConcurrency} at a time per runner`;
    return results.map((r, i): Row => {
      const row: Row = { name: `${r.runners} runner${r.runners > 1 ? "s" : ""}`, value: r.runsPerMinute, unit: "runs/min", ...(i === 0 && { note }) };
      if (r.runners !== Math.max(...runnerCounts)) return row;
      return { ...row, anchor: { name: "1 runner", value: one }, goal: `≥ ${GOAL_SPEEDUP}× anchor`, ok: r.runsPerMinute / one >= GOAL_SPEEDUP };
    }).concat([{ name: "Redis commands per run, 4 runners", value: results.at(-1)!.redisCommandsPerRun, unit: "commands" }]);
  },
});

async function measure(runners: number, jobCount: number, opts: { redisUrl: string; modelUrl: string; stats: Redis }): Promise<Measured> {
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
    const failed = outcomes.filter((o) => !o.ok).length;
    if (failed > 0) throw new Error(`${failed} of ${jobCount} jobs failed with ${runners} runner(s)`);
    // The two INFO calls themselves are in the difference: two commands in thousands.
    return { runners, runsPerMinute: round((jobCount / seconds) * 60, 0), redisCommandsPerRun: round((after - before) / jobCount, 1) };
  } finally {
    await Promise.all(children.map(stop));
  }
}

function spawnRunner(opts: { redisUrl: string; modelUrl: string; queueName: string; name: string }): Promise<ChildProcess> {
  const entry = fileURLToPath(new URL("./kit/runner-node.ts", import.meta.url));
  const env = { ...process.env, BENCH_REDIS_URL: opts.redisUrl, BENCH_MODEL_URL: opts.modelUrl, BENCH_QUEUE: opts.queueName, BENCH_RUNNER_NAME: opts.name };
  const child = spawn(process.execPath, ["--import", "tsx", entry], { env, stdio: ["ignore", "pipe", "inherit"] });
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

/**
 * Webhook acknowledgement: how long GitHub waits for an answer to a signed delivery, at
 * concurrency 50 over 1,500 deliveries (300 with --quick). Shopfloor as `shopfloor serve` runs it
 * (`src/cli.ts serve`: Probot server, its client class, intake, file store) against a bare Probot
 * app with one no-op handler, each in a process of its own with nothing else in it; GitHub's fake
 * is a third process (test/kit/github-host.ts) on loopback. This process is the client: it feeds
 * both the same deliveries, in alternate rounds, after a warm-up long enough for the JIT to settle,
 * so neither side's garbage collection lands in the other's figures. Deliveries are half `/retry`
 * comments on an issue without a run (read the store, ignore) and half redeliveries of a label
 * already received. Both servers are saturated, so latency follows each one's CPU per delivery,
 * which is printed too (bench/kit/server-meter.ts reads it inside each server).
 * Goal: the app's p99 at most 1.25 times bare Probot's.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Agent, get, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import examples from "@octokit/webhooks-examples";
import { signedDelivery } from "../src/cli/replay.js";
import { terminalPhases, type Phase } from "../src/domain/index.js";
import { labeledPayload, projectFiles } from "../test/e2e/scenario.js";
import { makeOriginRepo } from "../test/kit/git-server.js";
import type { GitHubHostSetup } from "../test/kit/github-host.js";
import { defaultBranch, installationId, owner, repoName } from "../test/kit/names.js";
import { freePort } from "../test/kit/port.js";
import { defineBench, quantile, ratioRow, round } from "./kit/figure.js";
import type { ServerDone } from "./kit/server-meter.js";

const CONCURRENCY = 50;
const GOAL_P99_RATIO = 1.25;
const labelDelivery = "bench-label-1";
const root = fileURLToPath(new URL("..", import.meta.url));

type Deliver = (name: string, payload: unknown, deliveryId?: string) => Promise<number>;

/** A process started by the bench, read line by line; killed with its group if the bench fails. */
interface Child {
  proc: ChildProcess;
  /** The next stdout line starting with `word `, parsed; rejects if the process exits first. */
  next(word: string): Promise<unknown>;
}

function start(args: string[], env: Record<string, string>, cwd = root): Child {
  const proc = spawn(process.execPath, args, { cwd, env, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    proc,
    async next(word) {
      for (;;) {
        const line = await lines.next();
        if (line.done) throw new Error(`${args.at(-1)} exited (${proc.exitCode}) before it said "${word}"`);
        if (line.value.startsWith(`${word} `)) return JSON.parse(line.value.slice(word.length + 1));
      }
    },
  };
}

/** The environment every process starts from: nothing of the caller's Shopfloor, GitHub or model settings. */
const baseEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? tmpdir() });

interface ServerProcess {
  deliver: Deliver;
  /** Starts the server's own count of CPU time and GC pauses (server-meter.ts). */
  mark(): void;
  /** Stops the server; resolves with what it says it cost since the mark. */
  close(): Promise<ServerDone>;
}

/** A client for a started server: as GitHub posts, signed, awaited to the last byte. */
function serverProcess(child: Child, url: string, secret: string): ServerProcess {
  // The client must cost less than either server, or the figures time the client: a payload is
  // serialised and signed once (the signature covers the body, not the delivery id), and sent
  // over kept-alive sockets.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const signed = new Map<unknown, { headers: Record<string, string>; body: string }>();
  const deliver: Deliver = (name, payload, deliveryId = randomBytes(8).toString("hex")) => {
    let once = signed.get(payload);
    if (!once) signed.set(payload, (once = signedDelivery(secret, { event: name, id: "", payload })));
    const headers = { ...once.headers, "x-github-delivery": deliveryId, "content-length": String(Buffer.byteLength(once.body)) };
    return new Promise((resolve, reject) => {
      const req = request(url, { method: "POST", headers, agent }, (res) => {
        res.on("end", () => resolve(res.statusCode ?? 0)).on("error", reject).resume();
      });
      req.on("error", reject).end(once.body);
    });
  };
  return {
    deliver,
    mark: () => void child.proc.stdin!.write("mark\n"),
    async close() {
      agent.destroy();
      child.proc.stdin!.end();
      const kill = setTimeout(() => child.proc.kill("SIGKILL"), 10_000);
      try {
        return (await child.next("done")) as ServerDone;
      } finally {
        clearTimeout(kill);
      }
    },
  };
}

/** Node flags of both servers: TypeScript, and the meter that reads each one's CPU from inside. */
const tsx = ["--import", import.meta.resolve("tsx")];
const serverFlags = [...tsx, "--import", fileURLToPath(new URL("./kit/server-meter.ts", import.meta.url))];
// BENCH_CPU_PROF=<dir>: each server writes a V8 CPU profile there, to see where an answer's time goes.
const profileFlags = () => (process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []);

async function startBare(): Promise<ServerProcess> {
  const child = start([...profileFlags(), ...serverFlags, fileURLToPath(new URL("./kit/bare-probot.ts", import.meta.url))], baseEnv());
  try {
    const ready = (await child.next("ready")) as { url: string; secret: string };
    return serverProcess(child, ready.url, ready.secret);
  } catch (error) {
    child.proc.kill("SIGKILL");
    throw error;
  }
}

/** GitHub's fake, hosted by a process of its own on one loopback port (API and git), as GHE_HOST. */
async function startGitHub(dir: string): Promise<{ child: Child; host: string; statePath: string }> {
  const originRoot = join(dir, "origin");
  await makeOriginRepo(originRoot, owner, repoName, projectFiles, { branch: defaultBranch });
  const setup: GitHubHostSetup = {
    originRoot,
    repo: { owner, name: repoName, defaultBranch },
    token: `ghs_${randomBytes(18).toString("hex")}`,
    statePath: join(dir, "github.json"),
    permissions: { Codertocat: "write" },
    // Not valid: the label's first delivery ends its run at once (one comment), and every later
    // one is the redelivery of a delivery already received.
    configYaml: "budget:\n  usd: lots\n",
  };
  await writeFile(join(dir, "github-host.json"), JSON.stringify(setup));
  const child = start([...tsx, join(root, "test", "kit", "github-host.ts"), join(dir, "github-host.json")], baseEnv());
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.proc.stdout! });
    lines.on("line", (l) => l.startsWith("shopfloor-github-host ready on port") && resolve(l));
    child.proc.once("exit", (code) => reject(new Error(`GitHub's fake exited (${code}) before it was ready`)));
  });
  return { child, host: `127.0.0.1:${/(\d+)$/.exec(line)![1]}`, statePath: setup.statePath };
}

/** `shopfloor serve` on a fresh state dir, talking to GitHub's fake; ready once /healthz answers. */
async function startShopfloor(dir: string, githubHost: string): Promise<{ server: ServerProcess; stateDir: string }> {
  const port = await freePort();
  const secret = randomBytes(16).toString("hex");
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const stateDir = join(dir, "state");
  const env = {
    ...baseEnv(),
    APP_ID: "1234",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: secret,
    GHE_HOST: githubHost,
    GHE_PROTOCOL: "http",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "fatal",
    SHOPFLOOR_STATE_DIR: stateDir,
    SHOPFLOOR_WORK_DIR: join(dir, "work"),
  };
  // Its own working directory: no .env of the caller's is read.
  const child = start([...profileFlags(), ...serverFlags, join(root, "src", "cli.ts"), "serve"], env, dir);
  const exited = new Promise<never>((_, reject) => child.proc.once("exit", (code) => reject(new Error(`shopfloor serve exited (${code}) before it answered`))));
  exited.catch(() => undefined);
  const healthy = async () => {
    for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      const status = await new Promise<number>((resolve) => get(`http://127.0.0.1:${port}/healthz`, (res) => resolve(res.resume().statusCode ?? 0)).on("error", () => resolve(0)));
      if (status === 200) return;
    }
    throw new Error("shopfloor serve did not answer /healthz within 60 s");
  };
  try {
    await Promise.race([healthy(), exited]);
  } catch (error) {
    child.proc.kill("SIGKILL");
    throw error;
  }
  return { server: serverProcess(child, `http://127.0.0.1:${port}/api/github/webhooks`, secret), stateDir };
}

/** Waits until the run's notes on disk say it ended. */
async function runEnded(stateDir: string, issue: number): Promise<string> {
  const path = join(stateDir, "runs", owner, repoName, String(issue), "run.json");
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const phase = (JSON.parse((await readFile(path, "utf8").catch(() => "")) || "{}") as { phase?: Phase }).phase;
    if (phase && terminalPhases.includes(phase)) return phase;
  }
  throw new Error(`run ${owner}/${repoName}#${issue} did not end within 60 s`);
}

function retryComment(): unknown {
  const all = examples as unknown as { name: string; examples: any[] }[];
  const payload = structuredClone(all.find((e) => e.name === "issue_comment")!.examples.find((e) => e.action === "created")!);
  const user = { ...payload.sender, login: "Codertocat", type: "User" };
  payload.sender = user;
  payload.comment = { ...payload.comment, body: "/retry please", user, performed_via_github_app: null };
  payload.issue = { ...payload.issue, number: 2 };
  delete payload.issue.pull_request;
  payload.installation = { id: installationId };
  return payload;
}

/** `count` deliveries, `CONCURRENCY` at a time; the milliseconds each waited for its answer, by kind too. */
async function load(deliver: Deliver, count: number): Promise<number[] & { comments: number[]; labels: number[] }> {
  const comment = retryComment();
  const label = labeledPayload();
  const ms = Object.assign([] as number[], { comments: [] as number[], labels: [] as number[] });
  let next = 0;
  const client = async () => {
    while (next < count) {
      const i = next++;
      const started = performance.now();
      const status = i % 2 === 0 ? await deliver("issue_comment", comment) : await deliver("issues", label, labelDelivery);
      const took = performance.now() - started;
      ms.push(took);
      (i % 2 === 0 ? ms.comments : ms.labels).push(took);
      if (status !== 200) throw new Error(`delivery ${i} was answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  return ms;
}

export default defineBench({
  title: `webhook acknowledgement at concurrency ${CONCURRENCY}`,
  async run({ quick, log }) {
    const deliveries = quick ? 300 : 1_500;
    // Until the JIT has settled: a shorter warm-up leaves each round faster than the one before.
    const warmUp = quick ? 1_500 : 2_000;
    const dir = await mkdtemp(join(tmpdir(), "shopfloor-bench-webhook-"));
    let github: Awaited<ReturnType<typeof startGitHub>> | undefined;
    let servers: ServerProcess[] = [];
    try {
      github = await startGitHub(dir);
      const [bare, shopfloor] = await Promise.all([startBare(), startShopfloor(dir, github.host)]);
      const app = shopfloor.server;
      servers = [bare, app];
      if ((await app.deliver("issues", labeledPayload(), labelDelivery)) !== 200) throw new Error("the first label delivery was not acknowledged");
      log(`the label's run ended ${await runEnded(shopfloor.stateDir, 1)}`);

      const sides = { bare: bare.deliver, app: app.deliver };
      // Warm-up rounds, not counted: connections, JIT and caches settle before anything is timed.
      for (let r = 0; r < 2; r++) for (const deliver of Object.values(sides)) await load(deliver, warmUp / 2);
      bare.mark();
      app.mark();
      // Short rounds (75 deliveries) in the order bare, app, app, bare, …: a busy moment of the
      // machine (two cores, four processes) falls on either side alike, and neither goes first.
      const samples = { bare: [] as number[], app: [] as number[] };
      const rounds = quick ? 4 : 20;
      for (let r = 0; r < rounds; r++) {
        for (const side of r % 2 === 0 ? (["bare", "app"] as const) : (["app", "bare"] as const)) {
          const ms = await load(sides[side], deliveries / rounds);
          const p = (xs: number[], q: number) => round(quantile(xs, q), 1);
          log(`round ${r + 1} ${side}: p50 ${p(ms, 0.5)} ms, p99 ${p(ms, 0.99)} ms (comments p50 ${p(ms.comments, 0.5)}, p99 ${p(ms.comments, 0.99)}; labels p50 ${p(ms.labels, 0.5)}, p99 ${p(ms.labels, 0.99)})`);
          samples[side].push(...ms);
        }
      }
      servers = [];
      const [bareDone, appDone] = await Promise.all([bare.close(), app.close()]);
      const state = JSON.parse(await readFile(github.statePath, "utf8")) as { unexpected: string[]; requests: { method: string; path: string }[] };
      log(`GitHub's fake answered ${state.requests.length} requests, all before the first timed round: ${state.requests.map((r) => `${r.method} ${r.path}`).join(", ")}`);
      if (state.unexpected.length > 0) throw new Error(`requests GitHub's fake does not model: ${state.unexpected.join(", ")}`);
      const cpu = (done: ServerDone) => round((done.cpuMs * 1000) / deliveries, 0);
      for (const [side, done] of [["bare", bareDone], ["app", appDone]] as const) log(`${side}: ${done.gc.count} GC pauses (${round(done.gc.ms, 0)} ms in all), ${done.pageFaults} page faults, ${done.switches.voluntary} + ${done.switches.involuntary} context switches (waiting + preempted)`);
      const figure = (side: "bare" | "app", q: number) => round(quantile(samples[side], q), 2);
      for (const side of ["bare", "app"] as const) log(`${side}: p50 ${figure(side, 0.5)} ms, p90 ${figure(side, 0.9)} ms, p99 ${figure(side, 0.99)} ms, max ${figure(side, 1)} ms`);
      const note = `${deliveries.toLocaleString("en-US")} signed deliveries, ${CONCURRENCY} at a time, after ${warmUp.toLocaleString("en-US")} to warm up: /retry comments on an issue with no run, redeliveries of a received label; shopfloor serve with a file store, GitHub's fake on loopback`;
      return [
        { name: "ack p50", value: figure("app", 0.5), unit: "ms", anchor: { name: "bare Probot", value: figure("bare", 0.5) }, note },
        ratioRow({ name: "ack p99", value: figure("app", 0.99), unit: "ms", anchor: { name: "bare Probot", value: figure("bare", 0.99) } }, GOAL_P99_RATIO),
        { name: "CPU per delivery", value: cpu(appDone), unit: "µs", anchor: { name: "bare Probot", value: cpu(bareDone) } },
      ];
    } finally {
      await Promise.all(servers.map((server) => server.close().catch(() => undefined)));
      github?.child.proc.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  },
});

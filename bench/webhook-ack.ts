/**
 * Webhook acknowledgement: how long GitHub waits for an answer to a signed delivery, at
 * concurrency 50 over 1,500 deliveries (300 with --quick). The real app (Probot server with
 * `shopfloor serve`'s client class, intake, file store; GitHub faked by nock in its process, so
 * its API answers in microseconds where the real one takes tens of milliseconds) against a bare
 * Probot app with one no-op handler. Each runs in a process of its own
 * (bench/kit/webhook-server.ts) and this process is the client: it feeds both the same
 * deliveries, in alternate rounds, after a warm-up, so neither side's garbage collection lands in
 * the other's figures. Deliveries are half `/retry` comments on an issue without a run (read the
 * store, ignore) and half redeliveries of a label already received. Both servers are saturated,
 * so latency follows each one's CPU per delivery, which is printed too.
 * Goal: the app's p99 at most 1.25 times bare Probot's.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import examples from "@octokit/webhooks-examples";
import { signedDelivery } from "../src/cli/replay.js";
import { installationId } from "../test/kit/app.js";
import { labeledPayload } from "../test/e2e/scenario.js";
import { defineBench, quantile, ratioRow, round } from "./kit/figure.js";
import { labelDelivery, type ServerDone, type ServerReady } from "./kit/webhook-server.js";

const CONCURRENCY = 50;
const GOAL_P99_RATIO = 1.25;

type Deliver = (name: string, payload: unknown, deliveryId?: string) => Promise<number>;

interface ServerProcess {
  deliver: Deliver;
  /** Stops the server; resolves with what it says it cost and what GitHub's fake did not model. */
  close(): Promise<ServerDone>;
}

/** Starts one side in its own process and returns a client for it once it answers. */
async function startServer(side: "bare" | "app"): Promise<ServerProcess> {
  const entry = fileURLToPath(new URL("./kit/webhook-server.ts", import.meta.url));
  // BENCH_CPU_PROF=<dir>: each server writes a V8 CPU profile there, to see where an answer's time goes.
  const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, "--import", "tsx", entry, side], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (word: string): Promise<unknown> => {
    for (;;) {
      const line = await lines.next();
      if (line.done) throw new Error(`the ${side} server exited (${child.exitCode}) before it said "${word}"`);
      if (line.value.startsWith(`${word} `)) return JSON.parse(line.value.slice(word.length + 1));
    }
  };
  let ready: ServerReady;
  try {
    ready = (await next("ready")) as ServerReady;
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  // As GitHub posts: signed, awaited to the last byte. The client must cost less than either
  // server, or the figures time the client: a payload is serialised and signed once (the
  // signature covers the body, not the delivery id), and sent over kept-alive sockets.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const signed = new Map<unknown, { headers: Record<string, string>; body: string }>();
  const deliver: Deliver = (name, payload, deliveryId = randomBytes(8).toString("hex")) => {
    let once = signed.get(payload);
    if (!once) signed.set(payload, (once = signedDelivery(ready.secret, { event: name, id: "", payload })));
    const headers = { ...once.headers, "x-github-delivery": deliveryId, "content-length": String(Buffer.byteLength(once.body)) };
    return new Promise((resolve, reject) => {
      const req = request(ready.url, { method: "POST", headers, agent }, (res) => {
        res.on("end", () => resolve(res.statusCode ?? 0)).on("error", reject).resume();
      });
      req.on("error", reject).end(once.body);
    });
  };
  return {
    deliver,
    async close() {
      agent.destroy();
      child.stdin!.end();
      const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
      try {
        return (await next("done")) as ServerDone;
      } finally {
        clearTimeout(kill);
      }
    },
  };
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
    const warmUp = quick ? 50 : 250;
    const servers = await Promise.all([startServer("bare"), startServer("app")]);
    const [bare, app] = servers;
    let closed = false;
    try {
      const sides = { bare: bare.deliver, app: app.deliver };
      // Warm-up rounds, not counted: connections, JIT and caches settle before anything is timed.
      for (let r = 0; r < 2; r++) for (const deliver of Object.values(sides)) await load(deliver, warmUp);
      // Short rounds in the order bare, app, app, bare, …: a busy moment of the machine (it has two
      // cores and runs three processes) falls on either side alike, and neither always goes first.
      const samples = { bare: [] as number[], app: [] as number[] };
      const rounds = quick ? 6 : 10;
      for (let r = 0; r < rounds; r++) {
        for (const side of r % 2 === 0 ? (["bare", "app"] as const) : (["app", "bare"] as const)) {
          const ms = await load(sides[side], deliveries / rounds);
          const p = (xs: number[], q: number) => round(quantile(xs, q), 1);
          log(`round ${r + 1} ${side}: p50 ${p(ms, 0.5)} ms, p99 ${p(ms, 0.99)} ms (comments p50 ${p(ms.comments, 0.5)}, p99 ${p(ms.comments, 0.99)}; labels p50 ${p(ms.labels, 0.5)}, p99 ${p(ms.labels, 0.99)})`);
          samples[side].push(...ms);
        }
      }
      closed = true;
      const [bareDone, appDone] = (await Promise.all(servers.map((server) => server.close()))) as [ServerDone, ServerDone];
      if (appDone.unexpected.length > 0) throw new Error(`requests GitHub's fake does not model: ${appDone.unexpected.join(", ")}`);
      // Each side answered the same deliveries: warm-up and timed rounds alike.
      const answered = 2 * warmUp + deliveries;
      const cpu = (done: ServerDone) => round((done.cpuMs * 1000) / answered, 0);
      for (const [side, done] of [["bare", bareDone], ["app", appDone]] as const) log(`${side}: ${done.gc.count} GC pauses, ${round(done.gc.ms, 0)} ms in all`);
      const figure = (side: "bare" | "app", q: number) => round(quantile(samples[side], q), 2);
      for (const side of ["bare", "app"] as const) log(`${side}: p50 ${figure(side, 0.5)} ms, p90 ${figure(side, 0.9)} ms, p99 ${figure(side, 0.99)} ms, max ${figure(side, 1)} ms`);
      const note = `${deliveries.toLocaleString("en-US")} signed deliveries, ${CONCURRENCY} at a time: /retry comments on an issue with no run, redeliveries of a received label; GitHub's API answers in-process`;
      return [
        { name: "ack p50", value: figure("app", 0.5), unit: "ms", anchor: { name: "bare Probot", value: figure("bare", 0.5) }, note },
        ratioRow({ name: "ack p99", value: figure("app", 0.99), unit: "ms", anchor: { name: "bare Probot", value: figure("bare", 0.99) } }, GOAL_P99_RATIO),
        { name: "CPU per delivery", value: cpu(appDone), unit: "µs", anchor: { name: "bare Probot", value: cpu(bareDone) } },
      ];
    } finally {
      if (!closed) await Promise.all(servers.map((server) => server.close().catch(() => undefined)));
    }
  },
});

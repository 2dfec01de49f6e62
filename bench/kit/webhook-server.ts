/**
 * One side of bench/webhook-ack.ts in a process of its own: `node --import tsx
 * bench/kit/webhook-server.ts bare|app`. Each server gets its own heap and event loop, and the
 * client that times them runs in the bench's process, so one side's garbage collection never
 * stalls the other's answers, nor the clock that measures them.
 *
 * - `bare`: a bare Probot app with one no-op handler for the events sent, nothing else.
 * - `app`: the real app (Probot server, intake, file store) with GitHub faked by nock in this
 *   process, and the label already received once, so every later delivery of it is a redelivery.
 *
 * Prints one line `ready {"url","secret"}` once it answers; when stdin ends it prints
 * `done {"unexpected","cpuMs","gc"}` (see `ServerDone`) and exits.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { PerformanceObserver } from "node:perf_hooks";
import { run } from "probot";
import { freePort } from "../../test/kit/port.js";

export const labelDelivery = "bench-label-1";
export type ServerReady = { url: string; secret: string };
/** What a server says when stdin ends: the requests GitHub's fake did not model, and its costs since it was ready. */
export type ServerDone = { unexpected: string[]; cpuMs: number; gc: { count: number; ms: number } };

interface Side {
  ready: ServerReady;
  unexpected(): string[];
  close(): Promise<void>;
}

async function startBare(): Promise<Side> {
  const port = await freePort();
  const secret = randomBytes(16).toString("hex");
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const env: Record<string, string> = { APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: secret, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "fatal" };
  const server = await run((app) => app.on(["issues.labeled", "issue_comment.created"], async () => undefined), { env });
  return { ready: { url: `http://127.0.0.1:${port}/api/github/webhooks`, secret }, unexpected: () => [], close: () => server.stop() };
}

async function startReal(): Promise<Side> {
  // Imported here, never by the bare side: loading the app subscribes its webhook meter to Node's
  // HTTP diagnostics channels for the whole process, which would slow the anchor too.
  const { owner, repoName, startApp, webhookSecret } = await import("../../test/kit/app.js");
  const { labeledPayload, projectFiles } = await import("../../test/e2e/scenario.js");
  const { meteredOctokit } = await import("../../src/index.js");
  const { ShopfloorOctokit } = await import("../../src/github/rate-limits.js");
  // An invalid config: the label's first delivery ends its run at once (one comment), and every
  // later one is the redelivery of a delivery already received.
  // The client class `shopfloor serve` gives Probot (rate-limit handling, request meter): Probot
  // builds one for every delivery, before any handler runs.
  const app = await startApp({ script: {}, files: projectFiles, configYaml: "budget:\n  usd: lots\n", Octokit: ShopfloorOctokit.plugin(meteredOctokit) });
  app.github.permissions = { Codertocat: "write" };
  await app.deliver("issues", labeledPayload(), labelDelivery);
  await app.waitForRun(`${owner}/${repoName}#1`);
  return { ready: { url: `${app.url}/api/github/webhooks`, secret: webhookSecret }, unexpected: () => app.github.unexpected, close: () => app.close() };
}

const which = process.argv[2];
if (which === "bare" || which === "app") {
  const side = which === "bare" ? await startBare() : await startReal();
  // What answering cost this process from here on: its CPU, and the garbage collector's pauses.
  const cpu = process.cpuUsage();
  const gc = { count: 0, ms: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count += 1;
      gc.ms += entry.duration;
    }
  }).observe({ entryTypes: ["gc"] });
  process.stdout.write(`ready ${JSON.stringify(side.ready)}\n`);
  process.stdin
    .on("end", () => {
      const used = process.cpuUsage(cpu);
      const done: ServerDone = { unexpected: side.unexpected(), cpuMs: (used.user + used.system) / 1000, gc };
      void side.close().finally(() => process.stdout.write(`done ${JSON.stringify(done)}\n`, () => process.exit(0)));
    })
    .resume();
}

/**
 * Webhook acknowledgement: how long GitHub waits for an answer to a signed delivery, at
 * concurrency 50 over 1,500 deliveries (100 with --quick). The real app (Probot server, intake,
 * file store; GitHub faked by nock in this process, so its API answers in microseconds where the
 * real one takes tens of milliseconds) against a bare Probot app with one no-op handler, both
 * started here and fed the same deliveries by the same client, alternately, after a warm-up.
 * Deliveries are half `/retry` comments on an issue without a run (read the store, ignore) and
 * half redeliveries of a label already received (permission check, then deduplicated).
 * Goal: the app's p99 at most 1.25 times bare Probot's.
 */
import { sendDelivery } from "../src/cli/replay.js";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import examples from "@octokit/webhooks-examples";
import { run } from "probot";
import { installationId, owner, repoName, startApp, type AppHarness } from "../test/kit/app.js";
import { freePort } from "../test/kit/port.js";
import { labeledPayload, projectFiles } from "../test/e2e/scenario.js";
import { defineBench, quantile, ratioRow, round } from "./kit/figure.js";

const CONCURRENCY = 50;
const GOAL_P99_RATIO = 1.25;
const labelDelivery = "bench-label-1";

type Deliver = (name: string, payload: unknown, deliveryId?: string) => Promise<number>;

/** A bare Probot app: one no-op handler for the events sent, nothing else. */
async function startBareProbot(port: number): Promise<{ deliver: Deliver; close(): Promise<void> }> {
  const secret = randomBytes(16).toString("hex");
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const env: Record<string, string> = { APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: secret, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "fatal" };
  const server = await run((app) => app.on(["issues.labeled", "issue_comment.created"], async () => undefined), { env });
  // As the kit's `deliver` posts to the app: signed, awaited to the last byte.
  const deliver: Deliver = async (name, payload, deliveryId = randomBytes(8).toString("hex")) => {
    return (await sendDelivery(`http://127.0.0.1:${port}/api/github/webhooks`, secret, { event: name, id: deliveryId, payload })).status;
  };
  return { deliver, close: () => server.stop() };
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
    const deliveries = quick ? 100 : 1_500;
    const barePort = await freePort();
    const bare = await startBareProbot(barePort);
    let app: AppHarness | undefined;
    try {
      // An invalid config: the label's first delivery ends its run at once (one comment), and
      // every later one is the redelivery of a delivery already received.
      app = await startApp({ script: {}, files: projectFiles, configYaml: "budget:\n  usd: lots\n", netConnect: [`127.0.0.1:${barePort}`] });
      app.github.permissions = { Codertocat: "write" };
      await app.deliver("issues", labeledPayload(), labelDelivery);
      await app.waitForRun(`${owner}/${repoName}#1`);
      const real = app;
      const sides = { bare: bare.deliver, app: ((name, payload, id) => real.deliver(name, payload, id)) as Deliver };
      // Warm-up rounds, not counted: connections, JIT and caches settle before anything is timed.
      for (let r = 0; r < 2; r++) for (const deliver of Object.values(sides)) await load(deliver, quick ? 50 : 250);
      // Alternate rounds, so neither side gets the quieter moments of the machine.
      const samples = { bare: [] as number[], app: [] as number[] };
      const rounds = quick ? 2 : 6;
      for (let r = 0; r < rounds; r++) {
        for (const side of ["bare", "app"] as const) {
          const ms = await load(sides[side], deliveries / rounds);
          const p = (xs: number[], q: number) => round(quantile(xs, q), 1);
          log(`round ${r + 1} ${side}: p50 ${p(ms, 0.5)} ms, p99 ${p(ms, 0.99)} ms (comments p50 ${p(ms.comments, 0.5)}, p99 ${p(ms.comments, 0.99)}; labels p50 ${p(ms.labels, 0.5)}, p99 ${p(ms.labels, 0.99)})`);
          samples[side].push(...ms);
        }
      }
      if (app.github.unexpected.length > 0) throw new Error(`requests GitHub's fake does not model: ${app.github.unexpected.join(", ")}`);
      const figure = (side: "bare" | "app", q: number) => round(quantile(samples[side], q), 2);
      for (const side of ["bare", "app"] as const) log(`${side}: p50 ${figure(side, 0.5)} ms, p90 ${figure(side, 0.9)} ms, p99 ${figure(side, 0.99)} ms, max ${figure(side, 1)} ms`);
      const note = `${deliveries.toLocaleString("en-US")} signed deliveries, ${CONCURRENCY} at a time: /retry comments on an issue with no run, redeliveries of a received label; GitHub's API answers in-process`;
      return [
        { name: "ack p50", value: figure("app", 0.5), unit: "ms", anchor: { name: "bare Probot", value: figure("bare", 0.5) }, note },
        ratioRow({ name: "ack p99", value: figure("app", 0.99), unit: "ms", anchor: { name: "bare Probot", value: figure("bare", 0.99) } }, GOAL_P99_RATIO),
      ];
    } finally {
      await app?.close();
      await bare.close();
    }
  },
});

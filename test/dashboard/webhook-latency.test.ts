import { createHmac, generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createNodeMiddleware, Probot } from "probot";
import { afterEach, describe, expect, it, vi } from "vitest";
import { watchWebhookLatency } from "../../src/dashboard/webhook-latency.js";
import { example } from "../intake/probot.js";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
const secret = "webhook-secret";
const webhookPath = "/api/github/webhooks";
const handlerMs = 60;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Probot's own middleware on a real server, its `issues.labeled` handler taking `handlerMs`, plus one page of ours. */
async function probotServer(): Promise<string> {
  const probot = new Probot({ appId: 1234, privateKey, secret, logLevel: "fatal" });
  const middleware = await createNodeMiddleware(
    (app, { addHandler }) => {
      app.on("issues.labeled", () => new Promise((done) => setTimeout(done, handlerMs)));
      addHandler!((req, res) => {
        if (req.url !== "/healthz") return false;
        res.writeHead(200).end("ok");
        return true;
      });
    },
    { probot },
  );
  const server: Server = createServer((req, res) => void middleware(req, res, () => res.writeHead(404).end()));
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function deliver(url: string, path = webhookPath, signWith = secret): Promise<Response> {
  const body = JSON.stringify(example("issues", "labeled"));
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "issues",
      "x-github-delivery": `d-${Math.random()}`,
      "x-hub-signature-256": `sha256=${createHmac("sha256", signWith).update(body).digest("hex")}`,
    },
    body,
  });
}

describe("watchWebhookLatency", () => {
  it("times how long GitHub waited for each delivery to be acknowledged, with the status it got", async () => {
    const url = await probotServer();
    const seen: [number, number][] = [];
    cleanups.push(watchWebhookLatency(webhookPath, (seconds, status) => seen.push([seconds, status])));

    expect((await deliver(url)).status).toBe(200);
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(seen[0]![1]).toBe(200);
    // Probot awaits the handlers before it answers: their time is GitHub's wait.
    expect(seen[0]![0]).toBeGreaterThanOrEqual((handlerMs - 5) / 1000);
    expect(seen[0]![0]).toBeLessThan(5);

    // A delivery with a wrong signature is refused, and that is timed too.
    const refused = await deliver(url, webhookPath, "not-the-secret");
    expect(refused.status).toBeGreaterThanOrEqual(400);
    await vi.waitFor(() => expect(seen.map(([, status]) => status)).toEqual([200, refused.status]));
  });

  it("leaves other pages out, takes the path with a query string, and stops when unsubscribed", async () => {
    const url = await probotServer();
    const statuses: number[] = [];
    const stop = watchWebhookLatency(webhookPath, (_seconds, status) => statuses.push(status));
    cleanups.push(stop);

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}${webhookPath}`)).status).toBe(404);
    expect((await deliver(url, `${webhookPath}?source=redelivery`)).status).toBe(200);
    await vi.waitFor(() => expect(statuses).toEqual([200]));

    stop();
    expect((await deliver(url)).status).toBe(200);
    // A watcher started after it sees the next delivery; the stopped one saw neither.
    cleanups.push(watchWebhookLatency(webhookPath, (_s, status) => statuses.push(-status)));
    expect((await deliver(url)).status).toBe(200);
    await vi.waitFor(() => expect(statuses).toEqual([200, -200]));
  });

  it("never lets an observer that throws break the server", async () => {
    const url = await probotServer();
    cleanups.push(
      watchWebhookLatency(webhookPath, () => {
        throw new Error("observer bug");
      }),
    );
    expect((await deliver(url)).status).toBe(200);
    expect((await deliver(url)).status).toBe(200);
  });
});

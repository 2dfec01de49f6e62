import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeMiddleware, Probot } from "probot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readDelivery, signature } from "../../src/cli/replay.js";
import { example } from "../intake/probot.js";

const secret = "replay-kit-webhook-secret";
const root = new URL("../..", import.meta.url).pathname;
const received: { name: string; id: string; payload: any }[] = [];
let server: Server;
let url: string;
let dir: string;

beforeAll(async () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  // A real Probot, verifying signatures as a running Shopfloor does; it records what it accepted.
  const probot = new Probot({ appId: 1, privateKey, secret, logLevel: "fatal" });
  const middleware = await createNodeMiddleware((app) => app.onAny(async (context) => void received.push({ name: context.name, id: context.id, payload: context.payload })), { probot });
  server = createServer((req, res) => void middleware(req, res, () => res.writeHead(404).end()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;
  dir = await mkdtemp(join(tmpdir(), "shopfloor-replay-"));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function replay(args: string[], env: Record<string, string> = { WEBHOOK_SECRET: secret }): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "src/cli.ts"), "replay", ...args], { cwd: root, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b));
  child.stderr.on("data", (b: Buffer) => (out += b));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

describe("shopfloor replay", () => {
  it("sends saved deliveries, signed, to a running Probot, which accepts them; a wrong secret fails with the status", async () => {
    const labeled = example("issues", "labeled");
    const comment = example("issue_comment", "created");
    // GitHub's "Recent Deliveries" JSON: the event in the saved headers, an old delivery id that must not be reused.
    await writeFile(join(dir, "delivery.json"), JSON.stringify({ id: 1, guid: "0b989ba4-242f-11e5-81e1-c7b6966d2516", event: "issues", request: { headers: { "X-GitHub-Event": "issues", "X-GitHub-Delivery": "0b989ba4-242f-11e5-81e1-c7b6966d2516" }, payload: labeled } }));
    await writeFile(join(dir, "payload.json"), JSON.stringify(comment));

    const [saved, bare, wrongSecret] = await Promise.all([
      replay([join(dir, "delivery.json"), "--url", url]),
      replay([join(dir, "payload.json"), "--event", "issue_comment", "--delivery", "kit-delivery-1", "--url", url]),
      replay([join(dir, "payload.json"), "--event", "issue_comment", "--delivery", "kit-delivery-2", "--url", url], { WEBHOOK_SECRET: "not-the-secret" }),
    ]);

    expect(saved.code, saved.out).toBe(0);
    expect(saved.out).toMatch(new RegExp(`^issues\\.labeled delivery [0-9a-f-]{36} → ${url}: HTTP 200\\n$`));
    const first = received.find((r) => r.name === "issues")!;
    expect(first.payload).toEqual(labeled);
    expect(first.id).not.toBe("0b989ba4-242f-11e5-81e1-c7b6966d2516");
    expect(saved.out).toContain(first.id);

    expect(bare.code, bare.out).toBe(0);
    expect(received.find((r) => r.name === "issue_comment")).toEqual({ name: "issue_comment", id: "kit-delivery-1", payload: comment });

    expect(wrongSecret.code).toBe(1);
    expect(wrongSecret.out).toContain(`issue_comment.created delivery kit-delivery-2 → ${url}: HTTP 400`);
    expect(received.map((r) => r.id)).not.toContain("kit-delivery-2");
    expect(received).toHaveLength(2);
  });

  it("refuses what it cannot send with exit 2, and a Shopfloor that is not there with exit 1", async () => {
    await writeFile(join(dir, "bare.json"), JSON.stringify({ action: "opened" }));
    await writeFile(join(dir, "broken.json"), "{ not json");
    const [noEvent, noSecret, notJson, missing, down] = await Promise.all([
      replay([join(dir, "bare.json"), "--url", url]),
      replay([join(dir, "bare.json"), "--event", "issues", "--url", url], {}),
      replay([join(dir, "broken.json"), "--event", "issues", "--url", url]),
      replay([join(dir, "nowhere.json"), "--event", "issues", "--url", url]),
      replay([join(dir, "bare.json"), "--event", "issues", "--url", "http://127.0.0.1:9/api/github/webhooks"]),
    ]);
    expect(noEvent.code).toBe(2);
    expect(noEvent.out).toContain("no event name: the file is a bare payload, so name its event with --event <name>");
    expect(noSecret.code).toBe(2);
    expect(noSecret.out).toContain("WEBHOOK_SECRET is not set");
    expect(notJson.code).toBe(2);
    expect(notJson.out).toContain("broken.json is not JSON");
    expect(missing.code).toBe(2);
    expect(missing.out).toContain("cannot read");
    expect(down.code).toBe(1);
    expect(down.out).toContain("could not reach http://127.0.0.1:9/api/github/webhooks");
  });

  it("signs as GitHub does and finds the event name in each saved shape", () => {
    // The example from GitHub's docs on validating deliveries.
    expect(signature("It's a Secret to Everybody", "Hello, World!")).toBe("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    const payload = { action: "created" };
    expect(readDelivery({ name: "issue_comment", payload }, undefined)).toEqual({ event: "issue_comment", payload });
    expect(readDelivery({ headers: { "x-github-event": "push" }, payload }, undefined)).toEqual({ event: "push", payload });
    expect(readDelivery({ request: { headers: { "X-GitHub-Event": "check_run" }, payload } }, "issues")).toEqual({ event: "issues", payload });
    expect(readDelivery(payload, undefined)).toMatch(/^no event name/);
  });
});

import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RunSchema, defaultRepoConfig, type Run } from "../../src/domain/index.js";
import { missionControlHandler, type PageAction, type SignIn } from "../../src/dashboard/mission-control.js";
import { RunSummaries } from "../../src/dashboard/run-cache.js";
import { summarizeRun } from "../../src/dashboard/summary.js";
import { clientScript, pageStyle } from "../../src/dashboard/views.js";
import { FileRunStore } from "../../src/store/file.js";

/**
 * The router on a real server over a real file store. Sign-in itself is tested in auth.test.ts;
 * here a stand-in says who is signed in (the `x-kit-login` header) and which repositories each
 * person may read, so the tests speak of what each person sees and may do.
 */
const readable: Record<string, string[]> = { alice: ["octo/app"], bob: ["octo/other"] };
const signIn: SignIn = {
  handle: async () => false,
  viewer: (req) => {
    const login = req.headers["x-kit-login"];
    return typeof login === "string" ? { login, token: `gho_${login}`, sid: `sid-${login}` } : undefined;
  },
  csrfToken: (viewer) => `csrf-${viewer.sid}`,
  checkCsrf: (viewer, _req, token) => token === `csrf-${viewer.sid}`,
  canRead: async (viewer, owner, repo) => (readable[viewer.login] ?? []).includes(`${owner}/${repo}`),
};

function run(owner: string, repo: string, number: number, patch: Record<string, unknown> = {}): Run {
  return RunSchema.parse({
    id: `${owner}/${repo}#${number}`,
    repo: { owner, name: repo, installationId: 42 },
    issue: { number, title: `Secret plan of ${repo}`, body: "" },
    requestedBy: "writer",
    deliveryId: `d-${repo}-${number}`,
    createdAt: "2026-12-01T10:00:00.000Z",
    updatedAt: "2026-12-01T10:05:00.000Z",
    phase: "building",
    config: defaultRepoConfig,
    branch: `shopfloor/${number}-x`,
    ...patch,
  });
}

let dir: string;
let store: FileRunStore;
let server: Server;
let base: string;
let acted: PageAction[];
let handler: ReturnType<typeof missionControlHandler>;

/** `null`: the App has no OAuth client settings. */
async function mount(auth: SignIn | null = signIn): Promise<void> {
  const summaries = new RunSummaries(store, (r) => summarizeRun(r, { webUrl: "https://github.com" }));
  handler = missionControlHandler({
    store,
    summaries: () => summaries.all(),
    auth: auth ?? undefined,
    webUrl: "https://github.com",
    queueHealth: async () => ({ waiting: 2, oldestWaitingMs: 4_000, activeByRunner: { "node-a": 1 }, jobsByRunner: { "node-a": ["octo/app#1:build:impl:a1"] } }),
    redact: (text) => text.replaceAll("hunter2", "***"),
    act: async (action) => {
      acted.push(action);
      return action.by === "alice" ? { ok: true, text: `${action.action} sent; the run answers on the issue.` } : { ok: false, status: 403, text: "no write access" };
    },
    liveIntervalMs: 100,
  });
  server = createServer((req, res) => void handler(req, res).then((handled) => handled || res.writeHead(404).end("not ours")));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const get = (path: string, login?: string, cookie?: string) =>
  fetch(`${base}${path}`, { redirect: "manual", headers: { ...(login && { "x-kit-login": login }), ...(cookie && { cookie }) } });
const post = (path: string, login: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "x-kit-login": login, "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
  });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "shopfloor-mc-"));
  store = new FileRunStore(dir);
  acted = [];
  await store.save(run("octo", "app", 1));
  await store.save(run("octo", "other", 2, { phase: "escalated", question: "Which greeting style?" }));
});
afterEach(async () => {
  handler?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe("Mission Control's pages", () => {
  it("without OAuth settings says how to enable sign-in and shows nothing else", async () => {
    await mount(null);
    for (const path of ["/shopfloor", "/shopfloor/floor", "/shopfloor/runs/octo/app/1"]) {
      const res = await get(path, "alice");
      const html = await res.text();
      expect(res.status).toBe(200);
      expect(html).toContain("GITHUB_CLIENT_ID");
      expect(html).toContain("GITHUB_CLIENT_SECRET");
      expect(html).not.toContain("Secret plan");
    }
  });

  it("asks a stranger to sign in, and sends them back where they were going", async () => {
    await mount();
    const home = await get("/shopfloor");
    expect(await home.text()).toMatch(/sign in with github/i);
    const floor = await get("/shopfloor/floor?x=1");
    expect(floor.status).toBe(303);
    expect(floor.headers.get("location")).toBe(`/shopfloor/login?next=${encodeURIComponent("/shopfloor/floor?x=1")}`);
    expect((await get("/shopfloor/events")).status).toBe(401);
  });

  it("shows each person only the runs of repositories they can read", async () => {
    await mount();
    const alice = await (await get("/shopfloor", "alice")).text();
    expect(alice).toContain("Secret plan of app");
    expect(alice).not.toContain("Secret plan of other");
    const bob = await (await get("/shopfloor", "bob")).text();
    expect(bob).toContain("Secret plan of other");
    expect(bob).not.toContain("Secret plan of app");
    // Another repository's run is not there for them, whichever way they ask.
    const page = await get("/shopfloor/runs/octo/other/2", "alice");
    expect(page.status).toBe(404);
    expect(await page.text()).not.toContain("greeting");
    expect((await get("/shopfloor/runs/octo/other/2/events", "alice")).status).toBe(404);
    expect((await post("/shopfloor/runs/octo/other/2/actions", "alice", { csrf: "csrf-sid-alice", action: "cancel" })).status).toBe(404);
    expect(acted).toEqual([]);
    expect(await (await get("/shopfloor/floor", "alice")).text()).not.toContain("octo/other");
  });

  it("runs no script and no style but its own, and is never framed or cached", async () => {
    await mount();
    const res = await get("/shopfloor", "alice");
    const html = await res.text();
    const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain(`script-src ${hash(clientScript)}`);
    expect(csp).toContain(`style-src ${hash(pageStyle)}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(html).toContain(`<script>${clientScript}</script>`);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("pushes a change to an open runs page over server-sent events", async () => {
    await mount();
    const controller = new AbortController();
    const res = await fetch(`${base}/shopfloor/events`, { headers: { "x-kit-login": "alice" }, signal: controller.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const events: string[] = [];
    let buffer = "";
    const nextUpdate = async (): Promise<string> => {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^event: update\ndata: (.*)$/m.exec(block);
          if (data) return (JSON.parse(data[1]!) as { html: string }).html;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        buffer += new TextDecoder().decode(value);
      }
    };
    events.push(await nextUpdate());
    expect(events[0]).toContain("working");
    await store.save(run("octo", "app", 1, { phase: "escalated", question: "Should the greeting be formal?", updatedAt: "2026-12-01T10:06:00.000Z" }));
    events.push(await nextUpdate());
    expect(events[1]).toContain("needs you");
    expect(events[1]).toContain("Should the greeting be formal?");
    controller.abort();
  });

  it("hands an action to the command path only with the session's CSRF token, and says how it went", async () => {
    await mount();
    const forged = await post("/shopfloor/runs/octo/app/1/actions", "alice", { csrf: "csrf-sid-mallory", action: "cancel" });
    expect(forged.status).toBe(403);
    expect(acted).toEqual([]);

    const sent = await post("/shopfloor/runs/octo/app/1/actions", "alice", { csrf: "csrf-sid-alice", action: "retry", note: "try the helper", model: "openai/gpt-5.4", budget: "20" });
    expect(sent.status).toBe(303);
    expect(sent.headers.get("location")).toBe("/shopfloor/runs/octo/app/1");
    expect(acted).toEqual([{ runId: "octo/app#1", owner: "octo", repo: "app", installationId: 42, by: "alice", action: "retry", note: "try the helper", model: "openai/gpt-5.4", budget: "20" }]);
    // The outcome rides in a short-lived cookie scoped to the run's page, and is shown there once.
    const flash = sent.headers.get("set-cookie")!;
    expect(flash).toMatch(/^shopfloor_flash=[\w.-]+; Path=\/shopfloor\/runs\/octo\/app\/1; Max-Age=60; HttpOnly; SameSite=Lax$/);
    const shown = await get("/shopfloor/runs/octo/app/1", "alice", flash.split(";")[0]);
    expect(await shown.text()).toContain("retry sent; the run answers on the issue.");
    expect(shown.headers.get("set-cookie")).toBe("shopfloor_flash=; Path=/shopfloor/runs/octo/app/1; Max-Age=0; HttpOnly; SameSite=Lax");
  });

  it("puts no words on a page from its URL: a crafted link shows no message", async () => {
    await mount();
    for (const query of ["done", "error"]) {
      const page = await (await get(`/shopfloor/runs/octo/app/1?${query}=${encodeURIComponent("Your session expired: sign in at evil.example")}`, "alice")).text();
      expect(page).toContain("Secret plan");
      expect(page).not.toContain("evil.example");
    }
  });

  it("puts no words on a page from a cookie it did not set: one set by a sibling subdomain, or altered, shows no message", async () => {
    await mount();
    const words = (kind: string, text: string) => Buffer.from(JSON.stringify({ kind, text })).toString("base64url");
    const forged = await get("/shopfloor/runs/octo/app/1", "alice", `shopfloor_flash=${words("error", "Your session expired: sign in at evil.example")}`);
    expect(await forged.text()).not.toContain("evil.example");

    const sent = await post("/shopfloor/runs/octo/app/1/actions", "alice", { csrf: "csrf-sid-alice", action: "retry" });
    const real = sent.headers.get("set-cookie")!.split(";")[0]!;
    const altered = real.replace(/=[\w-]+\./, `=${words("error", "Sign in at evil.example")}.`);
    expect(altered).not.toBe(real);
    const page = await (await get("/shopfloor/runs/octo/app/1", "alice", altered)).text();
    expect(page).toContain("Secret plan");
    expect(page).not.toContain("evil.example");
  });

  it("refuses a form larger than any of its own", async () => {
    await mount();
    const res = await post("/shopfloor/runs/octo/app/1/actions", "alice", { csrf: "csrf-sid-alice", action: "retry", note: "x".repeat(100_000) });
    expect(res.status).toBe(413);
    expect(acted).toEqual([]);
  });
});

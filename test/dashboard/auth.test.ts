import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MissionControlAuth, missionControlAuthSettings, type MissionControlAuthSettings, type Viewer } from "../../src/dashboard/auth.js";
import { startOAuthServer, type OAuthServer } from "../kit/oauth-server.js";

const clientId = "Iv23.kit-client";
const clientSecret = "kit-client-secret-never-shown";
const sessionSecret = "kit-session-secret-never-shown-0123456789";
const hours = 3_600_000;

let oauth: OAuthServer;
let app: string;
let server: Server;
let auth: MissionControlAuth;
let clock: number;
/** The viewer the app last saw, by login: what the router would hold while rendering a page. */
const viewers = new Map<string, Viewer>();
/** Everything the app sent to a browser, to look for secrets in. */
const sent: string[] = [];

/** The router as it will mount the sign-in: `handle` first, then pages for a signed-in person. */
async function mount(settings: Partial<MissionControlAuthSettings> = {}, readCacheMs = 60_000): Promise<void> {
  const base = missionControlAuthSettings({ GITHUB_CLIENT_ID: clientId, GITHUB_CLIENT_SECRET: clientSecret, SHOPFLOOR_GITHUB_URL: oauth.url, SHOPFLOOR_SESSION_SECRET: sessionSecret });
  auth = new MissionControlAuth({ ...base!, ...settings }, { now: () => clock, readCacheMs });
  server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const body = req.method === "POST" ? new URLSearchParams(await readBody(req)) : undefined;
    if (await auth.handle(req, res, body)) return;
    const viewer = auth.viewer(req);
    if (!viewer) return void res.writeHead(401).end("not signed in");
    viewers.set(viewer.login, viewer);
    if (req.method === "GET" && path === "/shopfloor") {
      return void res.end(`<p>Signed in as ${viewer.login}</p><form method="post" action="/shopfloor/act"><input type="hidden" name="csrf" value="${auth.csrfToken(viewer)}"></form>`);
    }
    if (req.method === "POST" && path === "/shopfloor/act") {
      return void (auth.checkCsrf(viewer, req, body?.get("csrf") ?? undefined) ? res.end("done") : res.writeHead(403).end("refused"));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  app = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A browser: a cookie jar for the app, redirects followed by hand so each hop can be checked. */
class Browser {
  jar = new Map<string, string>();
  constructor(private headers: Record<string, string> = {}) {}

  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const toApp = url.startsWith(app);
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(url, {
      method: init.method ?? "GET",
      redirect: "manual",
      headers: { ...this.headers, ...(toApp && cookie ? { cookie } : {}), ...(init.form ? { "content-type": "application/x-www-form-urlencoded" } : {}), ...init.headers },
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    });
    const body = await res.text();
    const cookies = res.headers.getSetCookie();
    if (toApp) sent.push(body, ...cookies, res.headers.get("location") ?? "");
    for (const c of cookies) {
      const [pair] = c.split(";");
      const [name, value] = pair!.split(/=(.*)/s) as [string, string];
      if (/max-age=0/i.test(c) || value === "") this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return { status: res.status, body, cookies, location: res.headers.get("location") ?? undefined };
  }

  /** Follow redirects between the app and GitHub until a page answers; `cookies` are all those set on the way. */
  async follow(url: string) {
    const hops: string[] = [];
    let res = await this.request(url);
    const cookies = [...res.cookies];
    while (res.location && hops.length < 6) {
      hops.push(res.location);
      // https://<app> is the app behind a proxy that terminates TLS.
      res = await this.request(new URL(res.location, url).toString().replace(app.replace(/^http:/, "https:"), app));
      cookies.push(...res.cookies);
    }
    return { ...res, hops, cookies };
  }

  async page() {
    return this.request(`${app}/shopfloor`);
  }

  async csrf(): Promise<string> {
    return /name="csrf" value="([^"]*)"/.exec((await this.page()).body)?.[1] ?? "";
  }
}

/** The session cookie: the last one set (not cleared) on the way through sign-in. */
const lastSet = (cookies: string[]) => cookies.filter((c) => !/max-age=0/i.test(c)).at(-1) ?? "";

async function signIn(login: string, browser = new Browser(), next?: string) {
  oauth.signInAs(login);
  const res = await browser.follow(`${app}/shopfloor/login${next === undefined ? "" : `?next=${encodeURIComponent(next)}`}`);
  return { browser, res };
}

beforeEach(async () => {
  clock = Date.parse("2030-01-07T09:00:00Z");
  viewers.clear();
  sent.length = 0;
  oauth = await startOAuthServer({
    clientId,
    clientSecret,
    users: { alice: { repos: { "Codertocat/Hello-World": "write" } }, bob: { repos: { "other/repo": "read" } } },
  });
});

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await oauth.close();
});

describe("signing in to Mission Control with GitHub", () => {
  it("sends the person to GitHub, exchanges the code, and lands them signed in where they were going", async () => {
    await mount();
    const { browser, res } = await signIn("alice", undefined, "/shopfloor/runs?state=needs_you");
    const authorize = new URL(res.hops[0]!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${oauth.url}/login/oauth/authorize`);
    expect(authorize.searchParams.get("client_id")).toBe(clientId);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${app}/shopfloor/auth/callback`);
    expect(authorize.searchParams.get("state")).toMatch(/^[\w-]{20,}$/);
    expect(res.hops.at(-1)).toBe("/shopfloor/runs?state=needs_you");
    expect((await browser.page()).body).toContain("Signed in as alice");
    expect(viewers.get("alice")?.token).toBe(oauth.tokensOf("alice")[0]);
    expect(oauth.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /login/oauth/authorize", "POST /login/oauth/access_token", "GET /api/v3/user"]);
  });

  it("only ever sends a person on to a page of Mission Control after signing in", async () => {
    await mount();
    for (const next of ["https://evil.example/", "//evil.example/shopfloor", "/\\evil.example", "/api/github/webhooks", "/shopfloorx", "/shopfloor/../admin"]) {
      const { res } = await signIn("alice", undefined, next);
      expect(res.hops.at(-1), next).toBe("/shopfloor");
    }
  });

  it("refuses a callback whose state is missing or is not the one it issued, before asking GitHub", async () => {
    await mount();
    const browser = new Browser();
    oauth.signInAs("alice");
    const toGitHub = await browser.request(`${app}/shopfloor/login`);
    const back = new URL((await browser.request(toGitHub.location!)).location!);
    back.searchParams.set("state", "not-the-state-it-issued");
    const mismatched = await browser.request(back.toString());
    expect(mismatched.status).toBe(400);
    expect(mismatched.body).toMatch(/state/i);
    back.searchParams.delete("state");
    const missing = await browser.request(back.toString());
    expect(missing.status).toBe(400);
    const stranger = await new Browser().request(back.toString());
    expect(stranger.status).toBe(400);
    expect((await browser.page()).status).toBe(401);
    expect(oauth.requests.some((r) => r.path === "/login/oauth/access_token")).toBe(false);
  });

  it("refuses a code used a second time, showing GitHub's error code and never the client secret", async () => {
    await mount();
    const victim = new Browser();
    oauth.signInAs("alice");
    const toGitHub = await victim.request(`${app}/shopfloor/login`);
    const stolenJar = new Map(victim.jar);
    const callback = (await victim.request(toGitHub.location!)).location!;
    expect((await victim.request(callback)).status).toBe(302);

    const attacker = new Browser();
    attacker.jar = stolenJar;
    const replay = await attacker.request(callback);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain("bad_verification_code");
    expect(replay.body).not.toContain(clientSecret);
    expect((await attacker.page()).status).toBe(401);
  });

  it("says so when the person declines at GitHub or the client secret is wrong", async () => {
    await mount({ clientSecret: "a-stale-secret-never-shown" });
    oauth.signInAs(null);
    const declined = await new Browser().follow(`${app}/shopfloor/login`);
    expect(declined.status).toBe(400);
    expect(declined.body).toContain("access_denied");
    const { res } = await signIn("alice");
    expect(res.status).toBe(502);
    expect(res.body).toContain("incorrect_client_credentials");
    expect(res.body).not.toContain("a-stale-secret-never-shown");
  });
});

describe("the session", () => {
  it("is no session once tampered with or older than eight hours", async () => {
    await mount();
    const { browser } = await signIn("alice");
    const [name, value] = [...browser.jar].find(([, v]) => v.length > 40)!;
    const flipped = value.slice(0, 30) + (value[30] === "A" ? "B" : "A") + value.slice(31);
    browser.jar.set(name, flipped);
    expect((await browser.page()).status).toBe(401);
    browser.jar.set(name, value);
    clock += 8 * hours - 60_000;
    expect((await browser.page()).status).toBe(200);
    clock += 2 * 60_000;
    expect((await browser.page()).status).toBe(401);
  });

  it("is an HttpOnly, SameSite=Lax cookie for /shopfloor, Secure only when the person came over HTTPS", async () => {
    await mount();
    const plain = await signIn("alice");
    const session = lastSet(plain.res.cookies);
    expect(session).toMatch(/; HttpOnly/i);
    expect(session).toMatch(/; SameSite=Lax/i);
    expect(session).toMatch(/; Path=\/shopfloor(;|$)/);
    expect(session).toMatch(/; Max-Age=28800/i);
    expect(session).not.toMatch(/; Secure/i);
    const proxied = await signIn("alice", new Browser({ "x-forwarded-proto": "https" }));
    expect(lastSet(proxied.res.cookies)).toMatch(/; Secure/i);
  });

  it("is Secure and called back at the public URL when one is set", async () => {
    await mount({ publicUrl: "https://shopfloor.example.com" });
    const browser = new Browser();
    oauth.signInAs("alice");
    const toGitHub = await browser.request(`${app}/shopfloor/login`);
    expect(toGitHub.cookies[0]).toMatch(/; Secure/i);
    const back = new URL((await browser.request(toGitHub.location!)).location!);
    expect(`${back.origin}${back.pathname}`).toBe("https://shopfloor.example.com/shopfloor/auth/callback");
    const signedIn = await browser.request(`${app}${back.pathname}${back.search}`);
    expect(lastSet(signedIn.cookies)).toMatch(/; Secure/i);
  });

  it("never shows the person's token, the client secret or the session secret, not even inside the cookie", async () => {
    await mount();
    const { browser } = await signIn("alice");
    expect((await browser.page()).body).toContain("Signed in as alice");
    const out = await browser.request(`${app}/shopfloor/logout`, { method: "POST", form: { csrf: await browser.csrf() } });
    expect(out.status).toBe(303);
    const token = oauth.tokensOf("alice")[0]!;
    expect(token).toMatch(/^ghu_/);
    const decoded = sent.map((s) => Buffer.from(s.replace(/^[^=]*=/, "").split(";")[0]!, "base64url").toString("latin1"));
    for (const secret of [token, clientSecret, sessionSecret]) {
      expect(sent.join("\n")).not.toContain(secret);
      expect(decoded.join("\n")).not.toContain(secret);
    }
  });
});

describe("CSRF", () => {
  it("takes a form only with the token of the same session, from the app's own origin", async () => {
    await mount();
    const alice = (await signIn("alice")).browser;
    const bob = (await signIn("bob")).browser;
    const aliceToken = await alice.csrf();
    expect((await bob.request(`${app}/shopfloor/act`, { method: "POST", form: { csrf: aliceToken } })).status).toBe(403);
    expect((await alice.request(`${app}/shopfloor/act`, { method: "POST", form: {} })).status).toBe(403);
    expect((await alice.request(`${app}/shopfloor/act`, { method: "POST", form: { csrf: aliceToken }, headers: { origin: "https://evil.example" } })).status).toBe(403);
    expect((await alice.request(`${app}/shopfloor/act`, { method: "POST", form: { csrf: aliceToken }, headers: { origin: app } })).status).toBe(200);
    expect((await alice.request(`${app}/shopfloor/act`, { method: "POST", form: { csrf: aliceToken } })).status).toBe(200);
  });

  it("signs out only with the session's CSRF token", async () => {
    await mount();
    const { browser } = await signIn("alice");
    const forged = await browser.request(`${app}/shopfloor/logout`, { method: "POST", form: {} });
    expect(forged.status).toBe(403);
    expect((await browser.page()).status).toBe(200);
    await browser.page();
    const alice = viewers.get("alice")!;
    expect(await auth.canRead(alice, "Codertocat", "Hello-World")).toBe(true);
    const out = await browser.request(`${app}/shopfloor/logout`, { method: "POST", form: { csrf: await browser.csrf() } });
    expect(out.status).toBe(303);
    expect(out.location).toBe("/shopfloor");
    expect(out.cookies.some((c) => /Max-Age=0/i.test(c) && /Path=\/shopfloor/.test(c))).toBe(true);
    expect((await browser.page()).status).toBe(401);
    // The token is revoked at GitHub: a copy of the old cookie would see no repository at all.
    expect(oauth.requests).toContainEqual({ method: "DELETE", path: `/api/v3/applications/${clientId}/token` });
    expect(await auth.canRead(alice, "Codertocat", "Hello-World")).toBe(false);
  });
});

describe("which repositories a person may read", () => {
  it("asks GitHub with the person's own token, once per session and repository until the cache time passes", async () => {
    await mount({}, 5 * 60_000);
    await signIn("alice");
    await signIn("bob");
    const alice = viewers.get("alice")!;
    const bob = viewers.get("bob")!;
    const asked = () => oauth.requests.filter((r) => r.path.startsWith("/api/v3/repos/")).length;

    expect(await auth.canRead(alice, "Codertocat", "Hello-World")).toBe(true);
    expect(await auth.canRead(alice, "other", "repo")).toBe(false);
    expect(await auth.canRead(bob, "Codertocat", "Hello-World")).toBe(false);
    expect(await auth.canRead(bob, "other", "repo")).toBe(true);
    expect(asked()).toBe(4);

    expect(await auth.canRead(alice, "Codertocat", "Hello-World")).toBe(true);
    expect(await auth.canRead(bob, "Codertocat", "Hello-World")).toBe(false);
    expect(asked()).toBe(4);

    clock += 5 * 60_000 + 1;
    expect(await auth.canRead(alice, "Codertocat", "Hello-World")).toBe(true);
    expect(asked()).toBe(5);
  });
});

describe("settings from the environment", () => {
  const client = { GITHUB_CLIENT_ID: clientId, GITHUB_CLIENT_SECRET: clientSecret };

  it("is off without the App's OAuth client id and secret, on with both", () => {
    expect(missionControlAuthSettings(client)).toBeDefined();
    expect(missionControlAuthSettings({})).toBeUndefined();
    expect(missionControlAuthSettings({ GITHUB_CLIENT_ID: clientId })).toBeUndefined();
    expect(missionControlAuthSettings({ GITHUB_CLIENT_SECRET: clientSecret })).toBeUndefined();
  });

  it("signs in at github.com, at GitHub Enterprise Server, or at SHOPFLOOR_GITHUB_URL", () => {
    expect(missionControlAuthSettings(client)).toMatchObject({ clientId, clientSecret, webUrl: "https://github.com", apiUrl: "https://api.github.com" });
    expect(missionControlAuthSettings({ ...client, GHE_HOST: "ghe.example.com" })).toMatchObject({ webUrl: "https://ghe.example.com", apiUrl: "https://ghe.example.com/api/v3" });
    expect(missionControlAuthSettings({ ...client, GHE_HOST: "ghe.local:8080", GHE_PROTOCOL: "http" })).toMatchObject({ webUrl: "http://ghe.local:8080", apiUrl: "http://ghe.local:8080/api/v3" });
    const overridden = missionControlAuthSettings({ ...client, GHE_HOST: "ghe.example.com", SHOPFLOOR_GITHUB_URL: "http://127.0.0.1:9999/", SHOPFLOOR_PUBLIC_URL: "https://shopfloor.example.com/" });
    expect(overridden).toMatchObject({ webUrl: "http://127.0.0.1:9999", apiUrl: "http://127.0.0.1:9999/api/v3", publicUrl: "https://shopfloor.example.com" });
    expect(() => missionControlAuthSettings({ ...client, SHOPFLOOR_PUBLIC_URL: "shopfloor.example.com" })).toThrow(/SHOPFLOOR_PUBLIC_URL/);
  });

  it("takes SHOPFLOOR_SESSION_SECRET, else derives one from the client secret that every replica agrees on", () => {
    expect(missionControlAuthSettings({ ...client, SHOPFLOOR_SESSION_SECRET: sessionSecret })?.sessionSecret).toBe(sessionSecret);
    const derived = missionControlAuthSettings(client)!.sessionSecret;
    expect(derived).toBe(missionControlAuthSettings({ ...client })!.sessionSecret);
    expect(derived).not.toContain(clientSecret);
    expect(derived.length).toBeGreaterThanOrEqual(32);
    expect(missionControlAuthSettings({ ...client, GITHUB_CLIENT_SECRET: "another" })!.sessionSecret).not.toBe(derived);
  });
});

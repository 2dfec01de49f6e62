/**
 * Signing in to Mission Control with GitHub, through the App's own OAuth client: the web flow,
 * the session cookie, CSRF tokens, and which repositories a person may read, asked with their
 * own token. The session lives only in a sealed cookie (see session.ts), so replicas need no
 * shared store; the person's token never reaches a page, a log or a cookie in clear.
 */
import { hkdfSync, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { deleteToken, exchangeWebFlowCode, getWebFlowAuthorizationUrl } from "@octokit/oauth-methods";
import { request as octokitRequest } from "@octokit/request";
import { z } from "zod";
import { cameOverTls, hmac, page, readCookie, readForm, redirect, requestOrigin, sameSecret, seal, sessionKeys, setCookie, unseal, type SessionKeys } from "./session.js";

export interface Viewer {
  login: string;
  /** The person's own GitHub user token: never logged, never rendered. */
  token: string;
  /** Per-session id, for CSRF and the read cache. */
  sid: string;
}

export interface MissionControlAuthSettings {
  clientId: string;
  clientSecret: string;
  /** Where people sign in: https://github.com, the GHES host (GHE_HOST, GHE_PROTOCOL), or SHOPFLOOR_GITHUB_URL when set. */
  webUrl: string;
  /** The REST API for the person's token: https://api.github.com, or `${webUrl}/api/v3` for anything but github.com. */
  apiUrl: string;
  /** Key material for sealing cookies and CSRF tokens: SHOPFLOOR_SESSION_SECRET, else derived from the client secret. */
  sessionSecret: string;
  /** SHOPFLOOR_PUBLIC_URL (e.g. https://shopfloor.example.com): the callback URL base, and Secure cookies when https. */
  publicUrl?: string;
}

const ROOT = "/shopfloor";
const CALLBACK = `${ROOT}/auth/callback`;
const SESSION_COOKIE = "shopfloor_session";
const STATE_COOKIE = "shopfloor_signin";
/** A working day; also the life of a GitHub App user token when token expiry is on. */
const SESSION_MS = 8 * 3_600_000;
/** Time to get through GitHub's sign-in page (and its two-factor prompt) and back. */
const STATE_MS = 10 * 60_000;
/** How long a "may read owner/repo" answer is trusted: access removed at GitHub shows within this. */
const READ_CACHE_MS = 5 * 60_000;
/** Bounds the read cache: sessions times repositories looked at; the oldest answers go first. */
const READ_CACHE_ENTRIES = 20_000;

const EnvSchema = z.object({
  /** The App's OAuth client id; the manifest flow writes it, Apps made by hand copy it from the App's settings page. */
  GITHUB_CLIENT_ID: z.string().trim().optional(),
  /** The App's OAuth client secret; generated on the App's settings page. */
  GITHUB_CLIENT_SECRET: z.string().trim().optional(),
  GHE_HOST: z.string().trim().optional(),
  GHE_PROTOCOL: z.string().trim().optional(),
  /** Where people sign in, when it is neither github.com nor GHE_HOST (tests; a GitHub behind another name). */
  SHOPFLOOR_GITHUB_URL: z.string().trim().refine(isUrlOrEmpty, "must be a URL such as https://github.example.com").optional(),
  /** Seals Mission Control's cookies; set it to sign everyone out by changing it. */
  SHOPFLOOR_SESSION_SECRET: z.string().optional(),
  /** Where people reach Shopfloor (https://shopfloor.example.com): GitHub sends them back to `<it>/shopfloor/auth/callback`. */
  SHOPFLOOR_PUBLIC_URL: z.string().trim().refine(isUrlOrEmpty, "must be a URL such as https://shopfloor.example.com").optional(),
});

function isUrlOrEmpty(value: string): boolean {
  return value === "" || URL.canParse(value);
}

/** Undefined when GITHUB_CLIENT_ID or GITHUB_CLIENT_SECRET is missing: the page then says how to enable sign-in. */
export function missionControlAuthSettings(env: NodeJS.ProcessEnv): MissionControlAuthSettings | undefined {
  const e = EnvSchema.parse(env);
  if (!e.GITHUB_CLIENT_ID || !e.GITHUB_CLIENT_SECRET) return undefined;
  const webUrl = githubWebUrl(env);
  // Derived, not random: every replica computes the same key from the secret they share.
  const sessionSecret = e.SHOPFLOOR_SESSION_SECRET || Buffer.from(hkdfSync("sha256", e.GITHUB_CLIENT_SECRET, "shopfloor-mission-control", "session-secret", 32)).toString("base64url");
  const publicUrl = e.SHOPFLOOR_PUBLIC_URL ? trimSlash(e.SHOPFLOOR_PUBLIC_URL) : undefined;
  return { clientId: e.GITHUB_CLIENT_ID, clientSecret: e.GITHUB_CLIENT_SECRET, webUrl, apiUrl: apiUrlFor(webUrl), sessionSecret, ...(publicUrl ? { publicUrl } : {}) };
}

/** GitHub as people see it, where issue and PR links point: SHOPFLOOR_GITHUB_URL, else GHES's host, else github.com. */
export function githubWebUrl(env: NodeJS.ProcessEnv): string {
  const e = EnvSchema.parse(env);
  return trimSlash(e.SHOPFLOOR_GITHUB_URL || (e.GHE_HOST ? `${e.GHE_PROTOCOL || "https"}://${e.GHE_HOST}` : "https://github.com"));
}

/** GitHub's REST API for a sign-in host: api.github.com, api.<name>.ghe.com, or GHES's /api/v3. */
function apiUrlFor(webUrl: string): string {
  const url = new URL(webUrl);
  if (url.origin === "https://github.com") return "https://api.github.com";
  if (url.protocol === "https:" && url.hostname.endsWith(".ghe.com")) return `https://api.${url.host}`;
  return `${webUrl}/api/v3`;
}

const trimSlash = (url: string) => url.replace(/\/+$/, "");

const SessionSchema = z.object({ login: z.string().min(1), token: z.string().min(1), sid: z.string().min(1), exp: z.number() });
const SignInSchema = z.object({ state: z.string().min(1), next: z.string(), exp: z.number() });
const UserSchema = z.object({ login: z.string().min(1) });

type Request = typeof octokitRequest;

export class MissionControlAuth {
  private readonly keys: SessionKeys;
  private readonly now: () => number;
  private readonly readCacheMs: number;
  /** For the OAuth web flow: oauth-methods finds the sign-in host from this base URL (GHES included). */
  private readonly oauthRequest: Request;
  /** For the person's own token against the REST API. */
  private readonly apiRequest: Request;
  private readonly reads = new Map<string, { at: number; answer: Promise<boolean | undefined> }>();

  constructor(
    private readonly settings: MissionControlAuthSettings,
    opts: { now?: () => number; readCacheMs?: number } = {},
  ) {
    this.keys = sessionKeys(settings.sessionSecret);
    this.now = opts.now ?? Date.now;
    this.readCacheMs = opts.readCacheMs ?? READ_CACHE_MS;
    const headers = { "user-agent": "shopfloor-mission-control" };
    this.oauthRequest = octokitRequest.defaults({ baseUrl: apiUrlFor(trimSlash(settings.webUrl)), headers });
    this.apiRequest = octokitRequest.defaults({ baseUrl: trimSlash(settings.apiUrl), headers });
  }

  /** GET /shopfloor/login, GET /shopfloor/auth/callback, POST /shopfloor/logout. True when it answered. */
  async handle(req: IncomingMessage, res: ServerResponse, body?: URLSearchParams): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://mission-control.invalid");
    const route = `${req.method} ${url.pathname}`;
    if (route === `GET ${ROOT}/login`) this.login(req, res, url);
    else if (route === `GET ${CALLBACK}`) await this.callback(req, res, url);
    else if (route === `POST ${ROOT}/logout`) await this.logout(req, res, body ?? (await readForm(req)));
    else return false;
    return true;
  }

  /** The signed-in person from the session cookie, or undefined (absent, tampered, expired). */
  viewer(req: IncomingMessage): Viewer | undefined {
    const session = SessionSchema.safeParse(unseal(this.keys.seal, "session", readCookie(req, SESSION_COOKIE)));
    if (!session.success || session.data.exp <= this.now()) return undefined;
    const { login, token, sid } = session.data;
    return { login, token, sid };
  }

  /** A CSRF token bound to the session; every form carries it as hidden field `csrf`. */
  csrfToken(viewer: Viewer): string {
    return hmac(this.keys.csrf, `csrf:${viewer.sid}`);
  }

  /** The session's own token, and, when the browser names an Origin, this very site. */
  checkCsrf(viewer: Viewer, req: IncomingMessage, token: string | undefined): boolean {
    if (!token || !sameSecret(token, this.csrfToken(viewer))) return false;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const own = [requestOrigin(req), this.settings.publicUrl && new URL(this.settings.publicUrl).origin];
    return own.includes(origin);
  }

  /** Whether this person may read owner/repo, asked with their own token and cached per session. */
  async canRead(viewer: Viewer, owner: string, repo: string): Promise<boolean> {
    const key = `${viewer.sid}\n${owner.toLowerCase()}/${repo.toLowerCase()}`;
    const now = this.now();
    let entry = this.reads.get(key);
    if (!entry || now - entry.at >= this.readCacheMs) {
      entry = { at: now, answer: this.askRead(viewer.token, owner, repo) };
      this.reads.delete(key);
      this.reads.set(key, entry);
      if (this.reads.size > READ_CACHE_ENTRIES) this.reads.delete(this.reads.keys().next().value!);
    }
    const answer = await entry.answer;
    if (answer !== undefined) return answer;
    // GitHub could not say: refuse this time, and ask again next time rather than remember it.
    if (this.reads.get(key) === entry) this.reads.delete(key);
    return false;
  }

  private async askRead(token: string, owner: string, repo: string): Promise<boolean | undefined> {
    try {
      await this.apiRequest("GET /repos/{owner}/{repo}", { owner, repo, headers: { authorization: `token ${token}` } });
      return true;
    } catch (error) {
      const { status, response } = error as { status?: number; response?: { headers?: Record<string, string | undefined> } };
      // A rate-limited 403 says nothing about access.
      if (status === 403 && response?.headers?.["x-ratelimit-remaining"] === "0") return undefined;
      return status === 401 || status === 403 || status === 404 ? false : undefined;
    }
  }

  private login(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const state = randomBytes(24).toString("base64url");
    const next = localNext(url.searchParams.get("next"));
    const redirectUrl = this.callbackUrl(req);
    if (!redirectUrl) return page(res, 400, "Cannot tell where GitHub should send you back: set SHOPFLOOR_PUBLIC_URL.");
    const { url: authorize } = getWebFlowAuthorizationUrl({ clientType: "github-app", clientId: this.settings.clientId, redirectUrl, state, request: this.oauthRequest });
    const signIn = seal(this.keys.seal, "sign-in", { state, next, exp: this.now() + STATE_MS });
    redirect(res, 302, authorize, [setCookie(STATE_COOKIE, signIn, this.cookieOptions(req, `${ROOT}/auth`, STATE_MS))]);
  }

  private async callback(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const clearSignIn = setCookie(STATE_COOKIE, "", this.cookieOptions(req, `${ROOT}/auth`, 0));
    const saved = SignInSchema.safeParse(unseal(this.keys.seal, "sign-in", readCookie(req, STATE_COOKIE)));
    const state = url.searchParams.get("state");
    if (!saved.success || saved.data.exp <= this.now() || !state || !sameSecret(state, saved.data.state)) {
      return page(res, 400, "This sign-in was not started here or took too long (its state does not match). Please sign in again.", [clearSignIn]);
    }
    const refused = url.searchParams.get("error");
    if (refused) return page(res, 400, `GitHub did not sign you in (${errorCode(refused)}).`, [clearSignIn]);
    const code = url.searchParams.get("code");
    if (!code) return page(res, 400, "GitHub sent no sign-in code back. Please sign in again.", [clearSignIn]);

    let token: string;
    let expiresAt = Infinity;
    try {
      const { authentication } = await exchangeWebFlowCode({ clientType: "github-app", clientId: this.settings.clientId, clientSecret: this.settings.clientSecret, code, redirectUrl: this.callbackUrl(req), request: this.oauthRequest });
      token = authentication.token;
      if ("expiresAt" in authentication) expiresAt = Date.parse(authentication.expiresAt);
    } catch (error) {
      // Only GitHub's error code is shown: the error object also holds the request, secret included.
      const codeName = errorCode((error as { response?: { data?: { error?: unknown } } }).response?.data?.error);
      const status = codeName === "bad_verification_code" ? 400 : 502;
      return page(res, status, `GitHub refused the sign-in code (${codeName}). Please sign in again; if it keeps happening, check the App's client id and secret.`, [clearSignIn]);
    }
    let login: string;
    try {
      login = UserSchema.parse((await this.apiRequest("GET /user", { headers: { authorization: `token ${token}` } })).data).login;
    } catch {
      return page(res, 502, "GitHub did not say who you are. Please sign in again.", [clearSignIn]);
    }
    const now = this.now();
    const exp = Math.min(now + SESSION_MS, expiresAt);
    const session = seal(this.keys.seal, "session", { login, token, sid: randomBytes(16).toString("base64url"), exp });
    redirect(res, 302, saved.data.next, [clearSignIn, setCookie(SESSION_COOKIE, session, this.cookieOptions(req, ROOT, exp - now))]);
  }

  private async logout(req: IncomingMessage, res: ServerResponse, body: URLSearchParams): Promise<void> {
    const viewer = this.viewer(req);
    // Without the token a page on another site could sign a person out unasked.
    if (viewer && !this.checkCsrf(viewer, req, body.get("csrf") ?? undefined)) {
      return page(res, 403, "Signing out was refused: the form did not come from this session. Reload Mission Control and try again.");
    }
    // The session lives only in its cookie: revoking the token makes a copy of the cookie see nothing.
    // Best effort: a GitHub that cannot be reached must not keep a person signed in here.
    if (viewer) {
      for (const key of this.reads.keys()) if (key.startsWith(`${viewer.sid}\n`)) this.reads.delete(key);
      await deleteToken({ clientType: "github-app", clientId: this.settings.clientId, clientSecret: this.settings.clientSecret, token: viewer.token, request: this.oauthRequest }).catch(() => undefined);
    }
    redirect(res, 303, ROOT, [setCookie(SESSION_COOKIE, "", this.cookieOptions(req, ROOT, 0))]);
  }

  /** GitHub only sends people back to a callback URL registered for the App, so a forged Host header leads nowhere. */
  private callbackUrl(req: IncomingMessage): string | undefined {
    const base = this.settings.publicUrl ? trimSlash(this.settings.publicUrl) : requestOrigin(req);
    return base && `${base}${CALLBACK}`;
  }

  private cookieOptions(req: IncomingMessage, path: string, ms: number) {
    const secure = this.settings.publicUrl?.startsWith("https:") === true || cameOverTls(req);
    return { path, maxAgeSeconds: ms / 1000, secure };
  }
}

/** `?next=` is a page of Mission Control, nothing else: an open redirect would lend our name to phishing. */
function localNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.includes("\\")) return ROOT;
  const base = "http://mission-control.invalid";
  const url = new URL(next, base);
  const inside = url.origin === base && (url.pathname === ROOT || url.pathname.startsWith(`${ROOT}/`));
  return inside ? `${url.pathname}${url.search}` : ROOT;
}

/** GitHub's error codes are short words; anything else is not repeated back. */
function errorCode(value: unknown): string {
  return typeof value === "string" && /^[a-z0-9_]{1,64}$/i.test(value) ? value : "unknown_error";
}

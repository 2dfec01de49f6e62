import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JobProgress, Run } from "../domain/index.js";
import type { JournalEntry } from "../store/run-store.js";
import type { MissionControlAuth, Viewer } from "./auth.js";
import { cameOverTls, hmac, readCookie, sameSecret, setCookie } from "./session.js";
import { LiveFeed } from "./live.js";
import { summarizeRun } from "./summary.js";
import { floorView } from "./floor.js";
import { runStates, type RunState, type RunSummary } from "./types.js";
import {
  clientScript,
  pageStyle,
  renderFloorLive,
  renderFloorPage,
  renderMessagePage,
  renderRunLive,
  renderRunPage,
  renderRunsLive,
  renderRunsPage,
  renderSignInPage,
} from "./views.js";

/** The queue's figures the floor shows (the queue room's `QueueHealth`). */
export interface FloorQueueReading {
  waiting: number;
  oldestWaitingMs: number | undefined;
  activeByRunner: Record<string, number>;
  jobsByRunner?: Record<string, string[]>;
}

/** What the pages need of the sign-in (auth.ts). */
export type SignIn = Pick<MissionControlAuth, "handle" | "viewer" | "csrfToken" | "checkCsrf" | "canRead">;

/** An action from a page, handed to intake: the same path as a comment command. */
export interface PageAction {
  runId: string;
  owner: string;
  repo: string;
  installationId: number;
  by: string;
  action: string;
  note?: string;
  model?: string;
  budget?: string;
}
export type PageActionOutcome = { ok: true; text: string } | { ok: false; status: number; text: string };

export interface MissionControlDeps {
  store: {
    load(runId: string): Promise<Run | undefined>;
    journal(runId: string): Promise<JournalEntry[]>;
    progress(runId: string): Promise<Record<string, JobProgress>>;
  };
  /** Every run's summary, cached by stamp (run-cache.ts). */
  summaries(): Promise<RunSummary[]>;
  /** Undefined when the App has no OAuth client settings: the page says how to add them. */
  auth: SignIn | undefined;
  /** Where links to issues and PRs point: https://github.com or the GHES host. */
  webUrl: string;
  queueHealth(): Promise<FloorQueueReading>;
  redact(text: string): string;
  act(action: PageAction): Promise<PageActionOutcome>;
  liveIntervalMs: number;
  now?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

const prefix = "/shopfloor";
/** A form post is a few fields; anything larger is not from our page. */
const maxFormBytes = 64 * 1024;

/**
 * Mission Control, mounted with Probot's `addHandler` under `/shopfloor`: the runs, one run,
 * the floor, their live streams, and actions. Every page needs a signed-in person and shows only
 * runs of repositories that person can read with their own token.
 */
export function missionControlHandler(deps: MissionControlDeps) {
  const now = deps.now ?? Date.now;
  const live = new LiveFeed({ intervalMs: deps.liveIntervalMs, onError: (err) => deps.log?.warn({ err }, "a live page could not be rendered") });
  const headers = pageHeaders();

  const visible = async (viewer: Viewer): Promise<RunSummary[]> => {
    const all = await deps.summaries();
    const readable = new Map<string, Promise<boolean>>();
    const canRead = (s: RunSummary) => {
      const key = `${s.owner}/${s.repo}`;
      if (!readable.has(key)) readable.set(key, deps.auth!.canRead(viewer, s.owner, s.repo));
      return readable.get(key)!;
    };
    const checks = await Promise.all(all.map(canRead));
    return all.filter((_, i) => checks[i]);
  };

  // Every readable run goes to the view: it filters and sorts them, and counts each state over all.
  const runsLive = async (viewer: Viewer) => {
    const summaries = await visible(viewer);
    return { summaries, repos: [...new Set(summaries.map((s) => `${s.owner}/${s.repo}`))].sort() };
  };

  const runParts = async (viewer: Viewer, runId: string) => {
    const run = await deps.store.load(runId);
    if (!run || !(await deps.auth!.canRead(viewer, run.repo.owner, run.repo.name))) return undefined;
    const [journal, progress] = await Promise.all([deps.store.journal(runId), deps.store.progress(runId)]);
    return { run, journal, progress, summary: summarizeRun(run, { webUrl: deps.webUrl }) };
  };

  const floorParts = async (viewer: Viewer) => floorView(await visible(viewer), await deps.queueHealth(), now());

  const send = (res: ServerResponse, status: number, html: string, cookies: string[] = []) => {
    res.writeHead(status, cookies.length > 0 ? { ...headers, "set-cookie": cookies } : headers).end(html);
    return true;
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://mission-control");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return false;
    const body = req.method === "POST" ? await readForm(req) : undefined;
    if (body === null) return send(res, 413, renderMessagePage("Too large", "That form was larger than any Mission Control sends.", 413));
    if (!deps.auth) return send(res, 200, renderSignInPage({ configured: false }));
    if (await deps.auth.handle(req, res, body)) return true;
    const viewer = deps.auth.viewer(req);
    if (!viewer) {
      if (req.method === "GET" && path === prefix) return send(res, 200, renderSignInPage({ configured: true, next: `${url.pathname}${url.search}` }));
      if (req.method === "GET" && !path.endsWith("/events")) {
        res.writeHead(303, { location: `${prefix}/login?next=${encodeURIComponent(`${url.pathname}${url.search}`)}` }).end();
        return true;
      }
      return send(res, 401, renderMessagePage("Sign in first", "Your session has ended: sign in again.", 401));
    }
    const csrf = deps.auth.csrfToken(viewer);
    const flash = flashOf(req, csrf);
    const page = { viewer, csrf, now: now(), ...(flash && { flash }) };

    if (req.method === "GET" && (path === prefix || path === `${prefix}/events`)) {
      const filter = filterOf(url);
      if (path.endsWith("/events")) {
        live.open(req, res, async () => renderRunsLive({ ...page, now: now(), filter, ...(await runsLive(viewer)) }));
        return true;
      }
      return send(res, 200, renderRunsPage({ ...page, filter, ...(await runsLive(viewer)) }));
    }
    if (req.method === "GET" && (path === `${prefix}/floor` || path === `${prefix}/floor/events`)) {
      if (path.endsWith("/events")) {
        live.open(req, res, async () => renderFloorLive({ ...page, now: now(), floor: await floorParts(viewer) }));
        return true;
      }
      return send(res, 200, renderFloorPage({ ...page, floor: await floorParts(viewer) }));
    }
    const m = /^\/shopfloor\/runs\/([^/]+)\/([^/]+)\/(\d+)(\/events|\/actions)?$/.exec(path);
    if (m) {
      const [owner, repo] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      const runId = `${owner}/${repo}#${m[3]}`;
      const runPath = `${prefix}/runs/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/${m[3]}`;
      const parts = await runParts(viewer, runId);
      // A run the person cannot read is not there for them: the same answer as one that does not exist.
      if (!parts) return send(res, 404, renderMessagePage("No such run", "There is no run here that you can read.", 404));
      const view = { ...page, ...parts, redact: deps.redact };
      if (req.method === "GET" && m[4] === "/events") {
        live.open(req, res, async () => {
          const fresh = await runParts(viewer, runId);
          return fresh ? renderRunLive({ ...view, ...fresh, now: now() }) : "<p>This run is no longer there.</p>";
        });
        return true;
      }
      // The outcome of an action is shown once, on the page it was taken from.
      if (req.method === "GET" && m[4] === undefined) return send(res, 200, renderRunPage(view), flash ? [flashCookie(req, runPath, undefined, csrf)] : []);
      if (req.method === "POST" && m[4] === "/actions") {
        if (!deps.auth.checkCsrf(viewer, req, body?.get("csrf") ?? undefined)) {
          return send(res, 403, renderMessagePage("Refused", "This form did not come from your Mission Control session. Reload the page and try again.", 403));
        }
        const outcome = await deps.act({
          runId,
          owner,
          repo,
          installationId: parts.run.repo.installationId,
          by: viewer.login,
          action: body?.get("action") ?? "",
          note: body?.get("note") ?? undefined,
          model: body?.get("model") ?? undefined,
          budget: body?.get("budget") ?? undefined,
        });
        const flashed = { kind: outcome.ok ? "ok" : "error", text: outcome.text.slice(0, 300) } as const;
        res.writeHead(303, { location: runPath, "set-cookie": flashCookie(req, runPath, flashed, csrf), "cache-control": "no-store" }).end();
        return true;
      }
    }
    return send(res, 404, renderMessagePage("Not found", "Mission Control has no page here.", 404));
  }

  return Object.assign(
    async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
      try {
        return await route(req, res);
      } catch (error) {
        deps.log?.warn({ err: error }, "Mission Control could not answer");
        if (!res.headersSent) send(res, 500, renderMessagePage("Something went wrong", "Mission Control could not answer this time; try again.", 500));
        else res.end();
        return true;
      }
    },
    { close: () => live.close() },
  );
}

/** No script but our own, no framing, nothing cached: pages carry who is signed in. */
function pageHeaders(): Record<string, string> {
  const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
  return {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": [
      "default-src 'none'",
      `script-src ${hash(clientScript)}`,
      `style-src ${hash(pageStyle)}`,
      "img-src 'self' data:",
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
  };
}

function filterOf(url: URL): { state?: RunState; repo?: string } {
  const state = url.searchParams.get("state") ?? "";
  const repo = url.searchParams.get("repo") ?? "";
  return { ...((runStates as readonly string[]).includes(state) && { state: state as RunState }), ...(repo && { repo }) };
}

/**
 * What an action did travels to the page it came from in a short-lived cookie scoped to that
 * page, never in the URL: a link anyone can craft must not put words on a Mission Control page.
 * The cookie is signed with the viewer's CSRF token, a secret of their session, so one set by a
 * sibling subdomain or meant for another person shows nothing. The text is shown escaped, once;
 * the cookie is HttpOnly and SameSite=Lax like the session's.
 */
const FLASH_COOKIE = "shopfloor_flash";
type Flash = { kind: "ok" | "error"; text: string };

function flashCookie(req: IncomingMessage, path: string, flash: Flash | undefined, csrf: string): string {
  const words = flash ? Buffer.from(JSON.stringify(flash)).toString("base64url") : "";
  return setCookie(FLASH_COOKIE, flash ? `${words}.${hmac(Buffer.from(csrf), words)}` : "", { path, maxAgeSeconds: flash ? 60 : 0, secure: cameOverTls(req) });
}

function flashOf(req: IncomingMessage, csrf: string): Flash | undefined {
  const [words, signature, ...rest] = (readCookie(req, FLASH_COOKIE) ?? "").split(".");
  if (!words || !signature || rest.length > 0 || !sameSecret(signature, hmac(Buffer.from(csrf), words))) return undefined;
  try {
    const flash = JSON.parse(Buffer.from(words, "base64url").toString("utf8")) as Partial<Flash>;
    if ((flash.kind === "ok" || flash.kind === "error") && typeof flash.text === "string") return { kind: flash.kind, text: flash.text.slice(0, 300) };
  } catch {
    // Not ours: no message.
  }
  return undefined;
}

/** The url-encoded form of a POST, or null when it is larger than any of our forms. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxFormBytes) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

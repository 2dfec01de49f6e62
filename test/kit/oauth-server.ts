/**
 * GitHub for people signing in to Mission Control: a small real HTTP server on loopback that
 * plays GitHub's OAuth web flow and the two REST calls made with a person's own token, at the
 * paths GitHub Enterprise Server uses (`/login/oauth/*` on the host, the API under `/api/v3`).
 * Its URL is what the app gets as SHOPFLOOR_GITHUB_URL.
 *
 * Who signs in is set by the test (`signInAs`), as a person would at GitHub's sign-in page.
 * Codes are single-use and errors come back as GitHub sends them: HTTP 200 with `{ error }`.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type RepoAccess = "read" | "write" | "admin";

export interface OAuthServerOptions {
  clientId: string;
  clientSecret: string;
  /** Each person and the repositories (`owner/repo`) they may read, with their role there. */
  users: Record<string, { repos: Record<string, RepoAccess> }>;
}

export interface OAuthServer {
  /** http://127.0.0.1:PORT: the web URL; the API is at `${url}/api/v3`. */
  url: string;
  /** Who the next visit to the authorize page signs in as; `null`: the person clicks "Cancel". */
  signInAs(login: string | null): void;
  /** Every request received, in order (path without its query, so codes stay out of it). */
  requests: { method: string; path: string }[];
  /** The tokens issued (revoked ones too), by login, so a test can look for them where they must never appear. */
  tokensOf(login: string): string[];
  close(): Promise<void>;
}

interface Grant {
  login: string;
  redirectUri: string;
}

export async function startOAuthServer(opts: OAuthServerOptions): Promise<OAuthServer> {
  let signedIn: string | null = null;
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, string>();
  const issued: [string, string][] = [];
  const requests: { method: string; path: string }[] = [];
  const users = new Map(Object.entries(opts.users).map(([login, u]) => [login.toLowerCase(), { login, repos: u.repos }]));

  const routes: Record<string, (req: IncomingMessage, url: URL) => Promise<Reply> | Reply> = {
    "GET /login/oauth/authorize": (_req, url) => authorize(url),
    "POST /login/oauth/access_token": async (req) => exchange(await readParams(req)),
    "GET /api/v3/user": (req) => {
      const login = bearer(req);
      if (!login) return json(401, { message: "Bad credentials" });
      return json(200, { login, id: 1000 + [...users.keys()].indexOf(login.toLowerCase()) });
    },
  };

  /** `DELETE /applications/{client_id}/token`: the App (basic auth) revokes a person's token. */
  async function revoke(req: IncomingMessage, clientId: string): Promise<Reply> {
    const basic = Buffer.from(`${opts.clientId}:${opts.clientSecret}`).toString("base64");
    if (clientId !== opts.clientId || /^basic (\S+)$/i.exec(req.headers.authorization ?? "")?.[1] !== basic) return json(404, { message: "Not Found" });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const token = (JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { access_token?: string }).access_token;
    if (!token || !tokens.delete(token)) return json(404, { message: "Not Found" });
    return { status: 204, headers: {}, body: "" };
  }

  function authorize(url: URL): Reply {
    if (url.searchParams.get("client_id") !== opts.clientId) return text(404, "Not Found");
    const redirectUri = url.searchParams.get("redirect_uri");
    if (!redirectUri) return text(400, "redirect_uri is required here");
    const back = new URL(redirectUri);
    const state = url.searchParams.get("state");
    if (state !== null) back.searchParams.set("state", state);
    if (signedIn === null) {
      back.searchParams.set("error", "access_denied");
      back.searchParams.set("error_description", "The user has denied your application access.");
    } else {
      const code = randomBytes(10).toString("hex");
      codes.set(code, { login: signedIn, redirectUri });
      back.searchParams.set("code", code);
    }
    return { status: 302, headers: { location: back.toString() }, body: "" };
  }

  function exchange(params: Record<string, string>): Reply {
    if (params.client_id !== opts.clientId || params.client_secret !== opts.clientSecret) {
      return json(200, { error: "incorrect_client_credentials", error_description: "The client_id and/or client_secret passed are incorrect." });
    }
    const grant = params.code ? codes.get(params.code) : undefined;
    // Single use: a code seen once is gone, whether or not the exchange then succeeds.
    if (params.code) codes.delete(params.code);
    if (!grant) return json(200, { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
    if (params.redirect_uri && params.redirect_uri !== grant.redirectUri) {
      return json(200, { error: "redirect_uri_mismatch", error_description: "The redirect_uri MUST match the registered callback URL for this application." });
    }
    const token = `ghu_${randomBytes(18).toString("hex")}`;
    tokens.set(token, grant.login);
    issued.push([token, grant.login]);
    return json(200, { access_token: token, token_type: "bearer", scope: "" });
  }

  function repo(req: IncomingMessage, owner: string, name: string): Reply {
    const login = bearer(req);
    if (!login) return json(401, { message: "Bad credentials" });
    const repos = users.get(login.toLowerCase())?.repos ?? {};
    const fullName = Object.keys(repos).find((r) => r.toLowerCase() === `${owner}/${name}`.toLowerCase());
    if (!fullName) return json(404, { message: "Not Found" });
    const access = repos[fullName]!;
    const [o, n] = fullName.split("/") as [string, string];
    return json(200, {
      id: 5000,
      name: n,
      full_name: fullName,
      owner: { login: o },
      private: true,
      permissions: { pull: true, triage: access !== "read", push: access !== "read", maintain: access === "admin", admin: access === "admin" },
    });
  }

  function bearer(req: IncomingMessage): string | undefined {
    const match = /^(?:bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    return match ? tokens.get(match[1]!) : undefined;
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push({ method: req.method ?? "GET", path: url.pathname });
    const repoPath = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
    const revokePath = /^\/api\/v3\/applications\/([^/]+)\/token$/.exec(url.pathname);
    if (revokePath && req.method === "DELETE") {
      void revoke(req, decodeURIComponent(revokePath[1]!)).then((r) => send(res, r), (error: unknown) => send(res, text(500, String(error))));
      return;
    }
    const route = routes[`${req.method} ${url.pathname}`];
    const answer = route ? route(req, url) : repoPath && req.method === "GET" ? repo(req, repoPath[1]!, repoPath[2]!) : json(404, { message: "Not Found" });
    void Promise.resolve(answer).then((r) => send(res, r), (error: unknown) => send(res, text(500, String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    signInAs(login) {
      if (login !== null && !users.has(login.toLowerCase())) throw new Error(`no user ${login} in this OAuth server`);
      signedIn = login === null ? null : users.get(login.toLowerCase())!.login;
    },
    tokensOf: (login) => issued.filter(([, l]) => l === login).map(([t]) => t),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const json = (status: number, body: unknown): Reply => ({ status, headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify(body) });
const text = (status: number, body: string): Reply => ({ status, headers: { "content-type": "text/plain; charset=utf-8" }, body });

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, reply.headers).end(reply.body);
}

/** GitHub takes the token request as a form or as JSON; Octokit sends JSON. */
async function readParams(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString("utf8");
  if ((req.headers["content-type"] ?? "").includes("json")) {
    const parsed = JSON.parse(raw || "{}") as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === "string")) as Record<string, string>;
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

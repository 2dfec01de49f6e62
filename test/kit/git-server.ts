import { spawn } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runGit } from "../../src/workspace/git.js";

const BACKEND = "/usr/lib/git-core/git-http-backend";
const USER = "x-access-token";

export interface GitRequest {
  method: string;
  path: string;
  authorized: boolean;
  /** The token showed up in the request target (path or query) instead of only in the auth header. */
  urlHadCredentials: boolean;
}

export interface GitServer {
  url: string;
  port: number;
  requests: GitRequest[];
  close(): Promise<void>;
}

/**
 * Git smart HTTP over loopback: git-http-backend as CGI behind node:http, serving
 * `<root>/<owner>/<name>.git`, and demanding basic auth `x-access-token:<token>` on every request.
 */
export async function startGitServer(opts: { root: string; token: string }): Promise<GitServer> {
  const requests: GitRequest[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const authorized = basicAuth(req.headers.authorization) === `${USER}:${opts.token}`;
    const target = decodeURIComponent(req.url ?? "");
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      authorized,
      urlHadCredentials: target.includes(opts.token) || /^[a-z]+:\/\/[^/]*@/i.test(req.url ?? ""),
    });
    if (!authorized) {
      req.resume();
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"', "Content-Type": "text/plain" });
      res.end("authentication required\n");
      return;
    }
    cgi(req, res, url, opts.root);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function basicAuth(header: string | undefined): string | null {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? "");
  return m?.[1] ? Buffer.from(m[1], "base64").toString("utf8") : null;
}

function cgi(req: IncomingMessage, res: ServerResponse, url: URL, root: string): void {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: "1",
    GIT_CONFIG_NOSYSTEM: "1",
    HOME: root,
    PATH_INFO: url.pathname,
    QUERY_STRING: url.search.replace(/^\?/, ""),
    REQUEST_METHOD: req.method ?? "GET",
    CONTENT_TYPE: req.headers["content-type"] ?? "",
    REMOTE_USER: USER,
    REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
  };
  const protocol = req.headers["git-protocol"];
  if (typeof protocol === "string") env.GIT_PROTOCOL = protocol;
  if (req.headers["content-length"]) env.CONTENT_LENGTH = req.headers["content-length"];
  if (req.headers["content-encoding"]) env.HTTP_CONTENT_ENCODING = req.headers["content-encoding"];

  const child = spawn(BACKEND, [], { env, stdio: ["pipe", "pipe", "inherit"] });
  req.pipe(child.stdin);
  child.stdin.on("error", () => undefined);

  let head = Buffer.alloc(0);
  let headerDone = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (headerDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf("\r\n\r\n");
    const lf = head.indexOf("\n\n");
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    if (end < 0) return;
    headerDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString("latin1").split(/\r?\n/)) {
      const i = line.indexOf(":");
      if (i <= 0) continue;
      const key = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (key.toLowerCase() === "status") status = Number.parseInt(value, 10) || 200;
      else headers[key] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end));
  });
  child.on("close", (code) => {
    if (!headerDone) {
      res.writeHead(502, { "Content-Type": "text/plain" });
      res.end(`git-http-backend exited ${code} without a response\n`);
      return;
    }
    res.end();
  });
}

/**
 * Creates `<root>/<owner>/<name>.git` holding one commit of `files` on `main` (or `opts.branch`),
 * open to pushes over HTTP. Returns that commit's sha.
 */
export async function makeOriginRepo(
  root: string,
  owner: string,
  name: string,
  files: Record<string, string>,
  opts: { branch?: string } = {},
): Promise<string> {
  const branch = opts.branch ?? "main";
  const bare = join(root, owner, `${name}.git`);
  await mkdir(bare, { recursive: true });
  await runGit(["init", "--quiet", "--bare", `--initial-branch=${branch}`], { cwd: bare });
  await runGit(["config", "http.receivepack", "true"], { cwd: bare });
  const work = await mkdtemp(join(tmpdir(), "origin-seed-"));
  try {
    await runGit(["init", "--quiet", `--initial-branch=${branch}`], { cwd: work });
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(work, path)), { recursive: true });
      await writeFile(join(work, path), content);
    }
    const who = { GIT_AUTHOR_NAME: "Seed", GIT_AUTHOR_EMAIL: "seed@example.com", GIT_COMMITTER_NAME: "Seed", GIT_COMMITTER_EMAIL: "seed@example.com" };
    await runGit(["add", "-A"], { cwd: work });
    await runGit(["commit", "--quiet", "-m", "initial"], { cwd: work, env: who });
    await runGit(["push", "--quiet", bare, `HEAD:refs/heads/${branch}`], { cwd: work });
    return (await runGit(["rev-parse", "HEAD"], { cwd: work })).stdout.trim();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

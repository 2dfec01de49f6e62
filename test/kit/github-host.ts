/**
 * GitHub for a cluster of processes: `node --import tsx test/kit/github-host.ts <setup.json>`.
 *
 * The fake GitHub (github.ts) answers through nock, which only intercepts requests made in its own
 * process, and its state file is rewritten whole by whoever hosts it: two app processes each
 * hosting one would overwrite each other's writes. So one process hosts it for the whole cluster,
 * behind one loopback port that serves the REST API under /api/v3 and git smart HTTP at
 * /<owner>/<repo>.git, as GitHub Enterprise Server does under one GHE_HOST. Every app replica and
 * runner node talks to this port; the state file is this process's alone, read by the test.
 */
import { readFileSync } from "node:fs";
import http, { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { FakeGitHub } from "./github.js";
import { startGitServer } from "./git-server.js";

export interface GitHubHostSetup {
  /** Where the origin repos live: `<originRoot>/<owner>/<name>.git`. */
  originRoot: string;
  repo: { owner: string; name: string; defaultBranch: string };
  /** The installation token the fake mints and the git origin accepts. */
  token: string;
  /** The fake's state, read by the test once the runs are done. */
  statePath: string;
  permissions: Record<string, string>;
  configYaml: string;
}

const setupPath = process.argv[2];
if (!setupPath) throw new Error("usage: github-host.ts <setup.json>");
const setup = JSON.parse(readFileSync(setupPath, "utf8")) as GitHubHostSetup;

const git = await startGitServer({ root: setup.originRoot, token: setup.token });
const front = createServer((req, res) => {
  // The fake's interceptors answer requests to its own origin: the API is handed to nock by a
  // request to this very port, which nock catches before it leaves the process.
  const api = (req.url ?? "").startsWith("/api/");
  forward(req, res, api ? port : git.port);
});
await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
const port = (front.address() as AddressInfo).port;

const github = new FakeGitHub(`http://127.0.0.1:${port}/api/v3`, setup.repo, setup.token, { statePath: setup.statePath });
github.permissions = setup.permissions;
github.configYaml = setup.configYaml;
// Only git leaves the process; a request the fake does not model is refused and recorded.
nock.disableNetConnect();
nock.enableNetConnect(`127.0.0.1:${git.port}`);

// The line cluster.ts waits for: both the API and git answer on this port.
process.stdout.write(`shopfloor-github-host ready on port ${port}\n`);
// The test holds stdin open; if it dies without stopping us, GitHub must not linger.
process.stdin.on("end", () => process.exit(0)).resume();

/** Through `http.request` on the module object, which nock replaces: a named import would bypass it. */
function forward(req: IncomingMessage, res: ServerResponse, to: number): void {
  // Hop-by-hop headers stay on this hop: a kept-alive request into nock is never ended.
  const { connection: _connection, "keep-alive": _keepAlive, ...headers } = req.headers;
  const out = http.request({ host: "127.0.0.1", port: to, method: req.method, path: req.url, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on("error", (err) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(501, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: `not modelled by the kit's GitHub: ${err.message}` }));
  });
  req.pipe(out);
}

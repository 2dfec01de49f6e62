import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http";
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { allows, bridgeSource, startEgressProxy, startModelProxy, type EgressProxy } from "../../src/workspace/egress-proxy.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let dir: string;
let origin: Server;
let originPort: number;
/** What the origin received, newest last. */
let seen: Seen[];
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "egress-"));
  origin = createServer(async (req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: await text(req) });
    res.writeHead(200, { "content-type": "text/plain" }).end(`origin saw ${req.method} ${req.url}`);
  });
  originPort = await listenTcp(origin);
});

beforeEach(() => {
  seen = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  origin.closeAllConnections();
  await new Promise((resolve) => origin.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function egress(allow: string[]): Promise<EgressProxy> {
  const proxy = await startEgressProxy({ socketPath: join(dir, "egress.sock"), allow });
  cleanups.push(() => proxy.close());
  return proxy;
}

describe("allows", () => {
  it.each([
    [["registry.npmjs.org"], "registry.npmjs.org", 443, true],
    [["registry.npmjs.org"], "registry.npmjs.org", 80, true],
    [["registry.npmjs.org"], "registry.npmjs.org", 8080, false],
    [["registry.npmjs.org"], "npmjs.org", 443, false],
    [["registry.internal:8080"], "registry.internal", 8080, true],
    [["registry.internal:8080"], "registry.internal", 443, false],
    [["*.example.com"], "a.b.example.com", 443, true],
    [["*.example.com"], "example.com", 443, false],
    [["*.example.com"], "badexample.com", 443, false],
    [["*.example.com:8443"], "pkg.example.com", 8443, true],
    [["*.example.com:8443"], "pkg.example.com", 443, false],
    [["Registry.NPMjs.org."], "REGISTRY.npmjs.ORG", 443, true],
    [["registry.npmjs.org"], "registry.npmjs.org.", 443, true],
    [["[::1]:4873"], "::1", 4873, true],
    [["[::1]:4873"], "[0:0::1]", 4873, true],
    [["[::1]:4873"], "::1", 4874, false],
    [["127.0.0.1:4873"], "127.0.0.1", 4873, true],
    [["127.0.0.1:4873"], "localhost", 4873, false],
  ] as const)("%j allows %s:%i → %s", (entries, host, port, ok) => {
    expect(allows(entries, host, port).ok).toBe(ok);
  });

  it("says when the matching entry is an IP literal", () => {
    expect(allows(["127.0.0.1:4873"], "127.0.0.1", 4873)).toEqual({ ok: true, literal: true });
    expect(allows(["[::1]:4873"], "::1", 4873)).toEqual({ ok: true, literal: true });
    expect(allows(["localhost:4873"], "localhost", 4873)).toEqual({ ok: true, literal: false });
    expect(allows(["*.example.com"], "a.example.com", 443)).toEqual({ ok: true, literal: false });
  });
});

describe("startEgressProxy", () => {
  it.each(["", "registry npmjs.org", " registry.npmjs.org", "https://registry.npmjs.org", "registry.npmjs.org/path", "host:0", "host:70000", "::1", "*.0.0.1"])(
    "rejects the invalid entry %j",
    async (entry) => {
      await expect(startEgressProxy({ socketPath: join(dir, "bad.sock"), allow: ["ok.example", entry] })).rejects.toThrow(JSON.stringify(entry));
      expect(existsSync(join(dir, "bad.sock"))).toBe(false);
    },
  );

  it("listens on a socket only its user may open", async () => {
    const proxy = await egress([]);
    expect((await stat(proxy.socketPath)).mode & 0o777).toBe(0o600);
  });

  it("replaces a stale socket left by a killed process, but nothing that is not a socket", async () => {
    const stale = join(dir, "stale.sock");
    const holder = spawn(process.execPath, ["-e", 'require("net").createServer().listen(process.argv[1], () => console.log("up"))', stale]);
    cleanups.push(() => holder.kill("SIGKILL"));
    await new Promise((resolve) => holder.stdout.once("data", resolve));
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.once("exit", resolve));
    expect(existsSync(stale)).toBe(true);
    const proxy = await startEgressProxy({ socketPath: stale, allow: [] });
    await proxy.close();
    const file = join(dir, "not-a-socket");
    await writeFile(file, "keep me");
    await expect(startEgressProxy({ socketPath: file, allow: [] })).rejects.toThrow(/EADDRINUSE/);
    expect(await readFile(file, "utf8")).toBe("keep me");
  });

  it("tunnels CONNECT to an allowed host and carries an HTTP exchange end to end", async () => {
    const proxy = await egress([`127.0.0.1:${originPort}`]);
    const tunnel = await openTunnel(proxy.socketPath, `127.0.0.1:${originPort}`);
    expect(tunnel.reply).toMatch(/^HTTP\/1\.1 200 /);
    tunnel.socket.write(`GET /through HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(await readUntil(tunnel.socket)).toContain("origin saw GET /through");
    expect(proxy.refused()).toEqual([]);
  });

  it("refuses a host or port not in the allowlist with 403 and lists it", async () => {
    const proxy = await egress([`127.0.0.1:${originPort}`, "registry.npmjs.org"]);
    const host = await openTunnel(proxy.socketPath, "example.org:443");
    expect(host.reply).toMatch(/^HTTP\/1\.1 403 /);
    expect(host.reply + (await readUntil(host.socket))).toContain("shopfloor egress: example.org:443 is not in the setup allowlist");
    const port = await openTunnel(proxy.socketPath, `127.0.0.1:${originPort + 1}`);
    expect(port.reply).toMatch(/^HTTP\/1\.1 403 /);
    expect(proxy.refused()).toEqual(["example.org:443", `127.0.0.1:${originPort + 1}`]);
  });

  it("refuses a host allowed by name that resolves to loopback", async () => {
    const byName = await egress([`localhost:${originPort}`]);
    const refused = await openTunnel(byName.socketPath, `localhost:${originPort}`);
    expect(refused.reply).toMatch(/^HTTP\/1\.1 403 /);
    expect(refused.reply + (await readUntil(refused.socket))).toContain("resolves to a private address");
    expect(byName.refused()).toEqual([`localhost:${originPort}`]);
    expect(seen).toEqual([]);
  });

  it("forwards an absolute-form request with its body, Host kept and Proxy-Authorization dropped", async () => {
    const proxy = await egress([`127.0.0.1:${originPort}`]);
    const res = await send({
      socketPath: proxy.socketPath,
      method: "POST",
      path: `http://127.0.0.1:${originPort}/pkg/tarball?v=1`,
      headers: { host: `127.0.0.1:${originPort}`, "proxy-authorization": "Basic c2VjcmV0", "x-kept": "yes" },
      body: "a body that must arrive intact",
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe("origin saw POST /pkg/tarball?v=1");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ url: "/pkg/tarball?v=1", body: "a body that must arrive intact" });
    expect(seen[0]?.headers).toMatchObject({ host: `127.0.0.1:${originPort}`, "x-kept": "yes" });
    expect(seen[0]?.headers).not.toHaveProperty("proxy-authorization");
  });

  it("answers 502 when the allowed upstream does not accept connections", async () => {
    const closedPort = await freePort();
    const proxy = await egress([`127.0.0.1:${closedPort}`]);
    const tunnel = await openTunnel(proxy.socketPath, `127.0.0.1:${closedPort}`);
    expect(tunnel.reply).toMatch(/^HTTP\/1\.1 502 /);
    const plain = await send({ socketPath: proxy.socketPath, path: `http://127.0.0.1:${closedPort}/`, headers: { host: "x" } });
    expect(plain.status).toBe(502);
  });

  it("ends open tunnels on close", async () => {
    const proxy = await egress([`127.0.0.1:${originPort}`]);
    const tunnel = await openTunnel(proxy.socketPath, `127.0.0.1:${originPort}`);
    const ended = new Promise((resolve) => tunnel.socket.once("close", resolve));
    await proxy.close();
    await ended;
    expect(existsSync(proxy.socketPath)).toBe(false);
  }, 10_000);
});

describe("startModelProxy", () => {
  let upstream: Server;
  let upstreamPort: number;
  /** Lets the upstream send the rest of its SSE stream; a fallback timer stops a buffering proxy from hanging the test. */
  let release: () => void;
  let upstreamEnded: boolean;

  beforeAll(async () => {
    upstream = createServer(async (req, res) => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: await text(req) });
      if (!req.url?.includes("/stream")) return void res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      await new Promise<void>((resolve) => {
        release = resolve;
        setTimeout(resolve, 2_000);
      });
      upstreamEnded = true;
      res.end("data: two\n\n");
    });
    upstreamPort = await listenTcp(upstream);
  });

  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  async function model(base: string, headers: Record<string, string> = { "X-Api-Key": "real-key" }): Promise<EgressProxy> {
    const proxy = await startModelProxy({ socketPath: join(dir, "model.sock"), upstream: base, headers });
    cleanups.push(() => proxy.close());
    return proxy;
  }

  it.each([
    [{ "X-Api-Key": "real-key" }, { "x-api-key": "real-key" }],
    [{ Authorization: "Bearer real-token" }, { authorization: "Bearer real-token" }],
  ])("sends the request under the upstream's path prefix with %j, never the client's credentials", async (configured, expected) => {
    const proxy = await model(`http://127.0.0.1:${upstreamPort}/api/`, configured);
    const res = await send({
      socketPath: proxy.socketPath,
      method: "POST",
      path: "/v1/messages?beta=true",
      headers: { "x-api-key": "dummy", authorization: "Bearer dummy", "proxy-authorization": "Basic dummy", "anthropic-version": "2023-06-01" },
      body: '{"model":"m"}',
    });
    expect(res.body).toBe('{"ok":true}');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "POST", url: "/api/v1/messages?beta=true", body: '{"model":"m"}' });
    expect(seen[0]?.headers).toMatchObject({ ...expected, "anthropic-version": "2023-06-01" });
    expect(seen[0]?.headers.host).toBe(`127.0.0.1:${upstreamPort}`);
    expect(JSON.stringify(seen[0]?.headers)).not.toContain("dummy");
  });

  it("keeps an upstream without a path prefix free of double slashes", async () => {
    const proxy = await model(`http://127.0.0.1:${upstreamPort}`);
    await send({ socketPath: proxy.socketPath, path: "/v1/models" });
    expect(seen[0]?.url).toBe("/v1/models");
  });

  it("streams an SSE answer chunk by chunk", async () => {
    upstreamEnded = false;
    const proxy = await model(`http://127.0.0.1:${upstreamPort}`);
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      request({ socketPath: proxy.socketPath, method: "POST", path: "/v1/stream" }, resolve).on("error", reject).end("{}"),
    );
    const first = await new Promise<string>((resolve) => res.once("data", (b: Buffer) => resolve(b.toString())));
    expect(first).toContain("data: one");
    expect(upstreamEnded).toBe(false);
    release();
    expect(first + (await text(res))).toBe("data: one\n\ndata: two\n\n");
  });

  it("answers 502 when the upstream cannot be reached", async () => {
    const proxy = await model(`http://127.0.0.1:${await freePort()}`);
    expect((await send({ socketPath: proxy.socketPath, path: "/v1/messages" })).status).toBe(502);
  });

  it("refuses CONNECT and absolute-form requests with 403", async () => {
    const proxy = await model(`http://127.0.0.1:${upstreamPort}`);
    const tunnel = await openTunnel(proxy.socketPath, `127.0.0.1:${originPort}`);
    expect(tunnel.reply).toMatch(/^HTTP\/1\.1 403 /);
    const absolute = await send({ socketPath: proxy.socketPath, path: `http://127.0.0.1:${originPort}/x`, headers: { host: "x" } });
    expect(absolute.status).toBe(403);
    expect(proxy.refused()).toEqual([`127.0.0.1:${originPort}`, `127.0.0.1:${originPort}`]);
    expect(seen).toEqual([]);
  });
});

describe("bridgeSource", () => {
  let child: ChildProcess | undefined;

  afterEach(() => {
    child?.kill("SIGKILL");
    child = undefined;
  });

  it("carries a CONNECT tunnel from a loopback port to the proxy's socket", async () => {
    const proxy = await egress([`127.0.0.1:${originPort}`]);
    const port = await freePort();
    const ready = join(dir, "bridge-ready");
    child = spawn(process.execPath, ["-e", bridgeSource, String(port), proxy.socketPath, ready], { stdio: "ignore" });
    for (let i = 0; !existsSync(ready); i++) {
      if (i > 500) throw new Error("the bridge never became ready");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const socket = connect(port, "127.0.0.1");
    cleanups.push(() => socket.destroy());
    socket.write(`CONNECT 127.0.0.1:${originPort} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`);
    expect(await readUntil(socket, (t) => t.includes("\r\n\r\n"))).toMatch(/^HTTP\/1\.1 200 /);
    socket.write(`GET /bridged HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(await readUntil(socket)).toContain("origin saw GET /bridged");
  }, 10_000);
});

/** Sends a raw CONNECT over the proxy's socket; `reply` is what came back up to the end of its headers. */
async function openTunnel(socketPath: string, target: string): Promise<{ reply: string; socket: Socket }> {
  const socket = connect(socketPath);
  cleanups.push(() => socket.destroy());
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  return { reply: await readUntil(socket, (t) => t.includes("\r\n\r\n")), socket };
}

/** Text read from the socket until `done` says so or the socket ends. */
function readUntil(socket: Socket, done: (text: string) => boolean = () => false): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const finish = () => {
      socket.off("data", onData).off("end", finish).off("error", reject);
      resolve(got);
    };
    const onData = (b: Buffer) => {
      got += b.toString();
      if (done(got)) finish();
    };
    socket.on("data", onData).once("end", finish).once("error", reject);
  });
}

async function send(opts: { socketPath: string; path: string; method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ socketPath: opts.socketPath, method: opts.method ?? "GET", path: opts.path, headers: opts.headers }, resolve);
    req.on("error", reject).end(opts.body);
  });
  return { status: res.statusCode ?? 0, body: await text(res) };
}

async function text(stream: AsyncIterable<Buffer>): Promise<string> {
  let out = "";
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

async function listenTcp(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** A loopback port nothing listens on (taken and given back). */
async function freePort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

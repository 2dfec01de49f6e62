/**
 * The host side of the sandbox's network (DESIGN.md §2, "Two phases of network"). A sandbox has
 * only loopback; a bridge inside it pipes 127.0.0.1:<port> to a Unix socket bind-mounted from here.
 * The setup phase gets an allowlisting forward proxy on that socket; a CLI agent gets a model proxy
 * that reaches one upstream and adds the real API key there, so the key never enters the sandbox.
 */
import type { LookupAddress } from "node:dns";
import { lookup } from "node:dns/promises";
import { chmod, lstat, rm } from "node:fs/promises";
import { createServer, request as httpRequest, STATUS_CODES } from "node:http";
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, connect, isIP, type LookupFunction, type Socket } from "node:net";
import type { Duplex } from "node:stream";

export interface EgressProxy {
  /** The Unix socket it listens on. */
  socketPath: string;
  /** "host:port" of each refused request, in order (for a note in the command's output). */
  refused(): string[];
  /** Stops listening and destroys open connections/tunnels. */
  close(): Promise<void>;
}

/** A bare host entry means the web ports; anything else must be named with its port. */
const WEB_PORTS: readonly number[] = [80, 443];
/** A blackholed address would otherwise hold an install for the OS connect timeout (minutes). */
const CONNECT_TIMEOUT_MS = 15_000;

const HOST = String.raw`\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+`;
const ENTRY = new RegExp(String.raw`^(\*\.)?(${HOST})(?::(\d{1,5}))?$`);
const TARGET = new RegExp(String.raw`^(${HOST}):(\d{1,5})$`);

interface AllowEntry {
  host: string;
  wildcard: boolean;
  ports: readonly number[];
  literal: boolean;
}

/** An allowlisting forward proxy: CONNECT tunnels and absolute-form HTTP requests to allowed hosts only. */
export async function startEgressProxy(opts: { socketPath: string; allow: readonly string[] }): Promise<EgressProxy> {
  const entries = opts.allow.map(parseEntry);
  const refused: string[] = [];
  const open = new Set<Duplex>();

  /** The checked addresses to dial for `host:port`, or the answer to give instead. */
  async function admit(host: string, port: number): Promise<{ addresses: LookupAddress[] } | { status: number; body: string }> {
    const where = hostPort(host, port);
    const match = matchEntries(entries, host, port);
    if (!match.ok) {
      refused.push(where);
      return { status: 403, body: `shopfloor egress: ${where} is not in the setup allowlist (network.allow in .github/shopfloor.yml or SHOPFLOOR_EGRESS_ALLOW)` };
    }
    let addresses: LookupAddress[];
    try {
      addresses = await lookup(host, { all: true });
    } catch {
      return { status: 502, body: `shopfloor egress: cannot resolve ${host}` };
    }
    // A public name must not lead inside (metadata service, the runner's own ports): only an entry
    // that names the IP itself opens a private address, so nobody opens one by accident.
    const inside = match.literal ? undefined : addresses.find((a) => isPrivate(a.address));
    if (inside !== undefined) {
      refused.push(where);
      return { status: 403, body: `shopfloor egress: ${where} resolves to a private address (${inside.address}); allow the IP literal to reach it` };
    }
    return { addresses };
  }

  const server = createServer((req, res) => {
    void (async () => {
      const target = absoluteTarget(req.url);
      if (!target) return reply(res, 400, "shopfloor egress: send CONNECT host:port or an absolute http:// URL");
      const verdict = await admit(target.host, target.port);
      if ("status" in verdict) return reply(res, verdict.status, verdict.body);
      const headers = endToEnd(req.headers);
      headers.host ??= hostPort(target.host, target.port);
      // A fresh agent: no pooled socket outlives close() or crosses to another proxy's policy.
      const out = httpRequest({ host: target.host, port: target.port, lookup: pinned(verdict.addresses), agent: false, method: req.method, path: target.path, headers });
      out.setTimeout(CONNECT_TIMEOUT_MS, () => {
        if (out.socket?.connecting) out.destroy(new Error("connect timeout"));
      });
      out.on("socket", (socket) => track(open, socket));
      relay(req, res, out);
    })().catch(() => res.destroy());
  });
  server.on("connect", (req: IncomingMessage, client: Duplex, head: Buffer) => {
    client.on("error", () => client.destroy());
    void (async () => {
      const target = TARGET.exec(req.url ?? "");
      const host = normalHost(target?.[1] ?? "");
      const port = Number(target?.[2]);
      if (!host) return rawReply(client, 400, "shopfloor egress: CONNECT wants host:port");
      const verdict = await admit(host, port);
      if ("status" in verdict) return rawReply(client, verdict.status, verdict.body);
      const upstream = await dial(host, port, verdict.addresses).catch(() => undefined);
      if (!upstream) return rawReply(client, 502, `shopfloor egress: cannot connect to ${hostPort(host, port)}`);
      if (client.destroyed) return void upstream.destroy();
      track(open, upstream);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      splice(client, upstream);
    })().catch(() => client.destroy());
  });
  return listen(server, opts.socketPath, refused, open);
}

/**
 * A reverse proxy to one upstream (e.g. "https://api.anthropic.com" or "http://127.0.0.1:4000/v1"):
 * every origin-form request `METHOD /path?q` is sent to upstream base + path (the upstream's own path
 * prefix kept, no double slashes), with `headers` set on it (replacing what the client sent under those
 * names, case-insensitively; also drop the client's `authorization`, `x-api-key` and `proxy-authorization`
 * before setting `headers`), bodies streamed both ways (SSE must stream, not buffer). CONNECT and
 * absolute-form requests are refused with 403.
 */
export async function startModelProxy(opts: { socketPath: string; upstream: string; headers: Record<string, string> }): Promise<EgressProxy> {
  const base = new URL(opts.upstream);
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new Error(`model proxy: upstream must be http(s): ${opts.upstream}`);
  const send = base.protocol === "https:" ? httpsRequest : httpRequest;
  const prefix = base.pathname.replace(/\/+$/, "");
  // Whatever credentials the client holds are dummies; only the configured ones go upstream
  // (endToEnd drops proxy-authorization with the other proxy-* headers).
  const drop = ["host", "authorization", "x-api-key", ...Object.keys(opts.headers).map((k) => k.toLowerCase())];
  const refused: string[] = [];
  const refusal = `shopfloor model proxy: only requests to the model endpoint (${base.origin}) are forwarded`;

  const server = createServer((req, res) => {
    const path = req.url ?? "";
    if (!path.startsWith("/")) {
      const target = absoluteTarget(path);
      refused.push(target ? hostPort(target.host, target.port) : path);
      return reply(res, 403, refusal);
    }
    const out = send({
      hostname: normalHost(base.hostname),
      port: base.port,
      method: req.method,
      path: `${prefix}/${path.replace(/^\/+/, "")}`,
      headers: { ...endToEnd(req.headers, drop), ...opts.headers },
    });
    relay(req, res, out);
  });
  server.on("connect", (req: IncomingMessage, client: Duplex) => {
    client.on("error", () => client.destroy());
    refused.push(req.url ?? "");
    rawReply(client, 403, refusal);
  });
  return listen(server, opts.socketPath, refused, new Set());
}

/** Whether `host:port` is allowed by the entries (see rules below); pure, exported for tests. */
export function allows(entries: readonly string[], host: string, port: number): { ok: boolean; literal: boolean } {
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return matchEntries(entries.map(parseEntry), normalHost(bracketed) ?? "", port);
}

/**
 * CommonJS source of the bridge, run inside the sandbox as
 *   node -e "<bridgeSource>" <listenPort> <socketPath> <readyFile>
 * Half-open on both sides, so a client that shuts its sending side still gets the whole answer.
 */
export const bridgeSource = [
  'const net = require("net"), fs = require("fs");',
  "const [port, sock, ready] = process.argv.slice(1);",
  "net.createServer({ allowHalfOpen: true }, (c) => {",
  "  const u = net.connect({ path: sock, allowHalfOpen: true });",
  "  const end = () => { c.destroy(); u.destroy(); };",
  '  c.on("error", end); u.on("error", end);',
  "  c.pipe(u); u.pipe(c);",
  '}).listen(Number(port), "127.0.0.1", () => fs.writeFileSync(ready, ""));',
].join("\n");

function parseEntry(entry: string): AllowEntry {
  const m = ENTRY.exec(entry);
  const host = normalHost(m?.[2] ?? "");
  const port = m?.[3] === undefined ? undefined : Number(m[3]);
  const wildcard = m?.[1] !== undefined;
  if (!host || (port !== undefined && (port < 1 || port > 65535)) || (wildcard && isIP(host))) {
    throw new Error(`egress: invalid allow entry ${JSON.stringify(entry)} (want host, host:port, *.domain or [ipv6]:port)`);
  }
  return { host, wildcard, ports: port === undefined ? WEB_PORTS : [port], literal: isIP(host) !== 0 };
}

/** `host` is normalized and bare (IPv6 without brackets). A wildcard never matches the domain itself or an IP. */
function matchEntries(entries: readonly AllowEntry[], host: string, port: number): { ok: boolean; literal: boolean } {
  const hit = entries.find(
    (e) => e.ports.includes(port) && (e.wildcard ? isIP(host) === 0 && host.endsWith(`.${e.host}`) : host === e.host),
  );
  return { ok: hit !== undefined, literal: hit?.literal ?? false };
}

/**
 * Lower case, no trailing dot, IPv6 without brackets, and one spelling per IP (WHATWG URL rules,
 * so `0x7f.1` is 127.0.0.1); undefined if not a host. Checks and connections use this same form.
 */
function normalHost(raw: string): string | undefined {
  try {
    const host = new URL(`http://${raw}/`).hostname.replace(/\.$/, "");
    return (host.startsWith("[") ? host.slice(1, -1) : host) || undefined;
  } catch {
    return undefined;
  }
}

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Host, port and origin-form path of an absolute-form `http://` request target. */
function absoluteTarget(target: string | undefined): { host: string; port: number; path: string } | undefined {
  try {
    const url = new URL(target ?? "");
    const host = normalHost(url.hostname);
    if (url.protocol !== "http:" || !host) return undefined;
    return { host, port: Number(url.port) || 80, path: url.pathname + url.search };
  } catch {
    return undefined;
  }
}

/** Addresses a name allowed by name must not resolve to. BlockList also sees through IPv4-mapped IPv6. */
const inside = new BlockList();
for (const [net, bits] of [["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16],
  ["172.16.0.0", 12], ["192.168.0.0", 16], ["224.0.0.0", 4], ["240.0.0.0", 4]] as const) inside.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8]] as const) inside.addSubnet(net, bits, "ipv6");

function isPrivate(address: string): boolean {
  return inside.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
}

/** A resolver that answers with the addresses already checked, so a second lookup cannot rebind the name. */
function pinned(addresses: LookupAddress[]): LookupFunction {
  return (_host, options, callback) => {
    const [first] = addresses;
    if (options.all) callback(null, addresses);
    else if (first) callback(null, first.address, first.family);
    else callback(new Error("no address"), "");
  };
}

/** A connection to `host:port` through the checked addresses (Node tries each, both families). */
function dial(host: string, port: number, addresses: LookupAddress[]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, lookup: pinned(addresses), allowHalfOpen: true });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error("connect timeout")));
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.setTimeout(0);
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

/** Both directions, half-close passed on; an error on either side ends both, quietly. */
function splice(a: Duplex, b: Duplex): void {
  const end = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", end);
  b.on("error", end);
  a.pipe(b);
  b.pipe(a);
}

/** Streams the client's body up and the answer down as it comes (SSE included). */
function relay(req: IncomingMessage, res: ServerResponse, out: ClientRequest): void {
  out.on("response", (up) => {
    res.writeHead(up.statusCode ?? 502, endToEnd(up.headers));
    up.on("error", () => res.destroy());
    up.pipe(res);
  });
  req.on("error", () => out.destroy());
  out.on("error", () => (res.headersSent ? res.destroy() : reply(res, 502, "shopfloor proxy: the upstream connection failed")));
  // The client going away must not leave the upstream request running.
  res.on("close", () => out.destroy());
  req.pipe(out);
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"]);

/** Headers without the hop-by-hop ones (RFC 9110 §7.6.1), any `proxy-*`, and `drop`. */
function endToEnd(headers: IncomingHttpHeaders, drop: readonly string[] = []): OutgoingHttpHeaders {
  const named = String(headers.connection ?? "").toLowerCase().split(",").map((s) => s.trim());
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name.startsWith("proxy-") || named.includes(name) || drop.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) + 1 });
  res.end(`${body}\n`);
}

/** After CONNECT the socket is ours, not the HTTP server's: the answer is written by hand. */
function rawReply(socket: Duplex, status: number, body: string): void {
  const text = `${body}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

function track(open: Set<Duplex>, socket: Duplex): void {
  open.add(socket);
  socket.on("close", () => open.delete(socket));
}

async function listen(server: Server, socketPath: string, refused: string[], open: Set<Duplex>): Promise<EgressProxy> {
  // A socket left by a killed runner would make listen fail with EADDRINUSE; anything else there is not ours.
  if ((await lstat(socketPath).catch(() => undefined))?.isSocket()) await rm(socketPath);
  server.on("connection", (socket: Socket) => track(open, socket));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Only this user (and the sandbox it starts) may connect.
  await chmod(socketPath, 0o600);
  return {
    socketPath,
    refused: () => [...refused],
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
      await rm(socketPath, { force: true });
    },
  };
}

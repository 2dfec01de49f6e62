import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSandboxed, type SandboxRequest } from "../../src/workspace/index.js";

// Outside /tmp: the sandbox mounts a fresh /tmp of its own.
let base: string;
let wt: string;
let allowed: Server;
let other: Server;
const seen: string[] = [];

const listen = async (name: string): Promise<Server> => {
  const server = createServer((req, res) => {
    seen.push(`${name} ${req.url}`);
    res.end(`hello from ${name}\n`);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return server;
};
const portOf = (s: Server) => (s.address() as AddressInfo).port;
const run = (command: string, extra: Partial<SandboxRequest> = {}) => runSandboxed({ cwd: wt, command, timeoutMs: 20_000, maxOutputBytes: 64 * 1024, ...extra });

/** A Node one-liner inside the sandbox: GET through $HTTP_PROXY (absolute form), then directly. */
const probe = (port: number, path: string) =>
  `node -e "const http=require('http');const p=new URL(process.env.HTTP_PROXY||'http://127.0.0.1:1');` +
  `http.get({host:p.hostname,port:p.port,path:'http://127.0.0.1:${port}${path}'},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log('PROXY',r.statusCode,b.trim()))}).on('error',e=>console.log('PROXY-ERR',e.code));` +
  `fetch('http://127.0.0.1:${port}${path}-direct').then(r=>console.log('DIRECT',r.status)).catch(e=>console.log('DIRECT-ERR',e.cause&&e.cause.code))"`;

beforeAll(async () => {
  base = await mkdtemp("/var/tmp/sandbox-net-test-");
  wt = join(base, "wt");
  await mkdir(wt);
  allowed = await listen("registry");
  other = await listen("elsewhere");
});

afterAll(async () => {
  allowed.close();
  other.close();
  await rm(base, { recursive: true, force: true });
});

describe("the sandbox's network", () => {
  it("has none by default: neither a proxy nor a direct connection reaches the host", async () => {
    seen.length = 0;
    const r = await run(probe(portOf(allowed), "/none"));
    expect(r.output).toContain("PROXY-ERR ECONNREFUSED");
    expect(r.output).toContain("DIRECT-ERR ECONNREFUSED");
    expect(seen).toEqual([]);
  });

  it("in setup, reaches allowed hosts through the proxy only; others are refused and named", async () => {
    seen.length = 0;
    const network = { kind: "egress" as const, allow: [`127.0.0.1:${portOf(allowed)}`] };
    const ok = await run(probe(portOf(allowed), "/pkg"), { network });
    expect(ok.output).toContain("PROXY 200 hello from registry");
    // A direct connection goes nowhere, even to an allowed host.
    expect(ok.output).toContain("DIRECT-ERR ECONNREFUSED");
    expect(seen).toEqual(["registry /pkg"]);

    seen.length = 0;
    const refused = await run(probe(portOf(other), "/steal"), { network });
    expect(refused.output).toContain("PROXY 403");
    expect(refused.output).toContain("DIRECT-ERR ECONNREFUSED");
    expect(refused.output).toContain(`egress refused: 127.0.0.1:${portOf(other)}`);
    expect(seen).toEqual([]);
  });
});

describe("the sandbox's mounts", () => {
  it("shows a cache directory read-only with scratch space, or writable to the setup that fills it", async () => {
    const cache = join(base, "cache-entry");
    await mkdir(join(cache, ".cache"), { recursive: true });
    await writeFile(join(cache, "dep.js"), "module.exports = 42;\n");
    const ro = await run("cat node_modules/dep.js; echo x > node_modules/dep.js || echo READONLY; echo s > node_modules/.cache/s && echo SCRATCH; ls /deps/none 2>&1 | head -1", {
      mounts: [
        { source: cache, target: "node_modules", mode: "ro" },
        { target: "node_modules/.cache", mode: "tmpfs" },
      ],
    });
    expect(ro.output).toContain("module.exports = 42;");
    expect(ro.output).toContain("READONLY");
    expect(ro.output).toContain("SCRATCH");
    expect(await readFile(join(cache, "dep.js"), "utf8")).toBe("module.exports = 42;\n");
    await expect(readFile(join(cache, ".cache", "s"))).rejects.toThrow(/ENOENT/);

    const venv = join(base, "venv");
    await mkdir(venv);
    const rw = await run("echo installed > /deps/venv/marker && echo OK", { mounts: [{ source: venv, target: "/deps/venv", mode: "rw" }] });
    expect(rw.output).toBe("OK\n");
    expect(await readFile(join(venv, "marker"), "utf8")).toBe("installed\n");
  });

  it("stops at once when the job's signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const r = await run("echo started; sleep 30; echo never", { signal: controller.signal });
    expect(r).toMatchObject({ aborted: true, output: "started\n" });
    expect(r.ms).toBeLessThan(5000);
  });
});

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, realpathSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { createServer, connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bridgeSource, startEgressProxy, startModelProxy, type EgressProxy } from "./egress-proxy.js";
import { viewArgs } from "./sandbox-view.js";
import type { SandboxMount, SandboxNetwork, SandboxOutcome, SandboxRequest } from "./types.js";

/** A fork bomb stops at this many processes; enough for `npm test` with workers. */
const MAX_PROCESSES = 256;
const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** GNU `timeout` convention, so a timed-out command reads the same everywhere. */
const TIMEOUT_EXIT = 124;
/** Where the proxy's socket and the bridge live inside the sandbox (its own /run, not the host's). */
const RUN_DIR = "/run/shopfloor";
/** The sandbox's own loopback ports the bridge listens on. */
export const EGRESS_PORT = 3128;
export const MODEL_PORT = 3129;

export interface SandboxOptions {
  /** Extra read-only host paths for toolchains outside /usr (SHOPFLOOR_SANDBOX_PATHS). */
  toolchains?: readonly string[];
}

let warnedUnsandboxed = false;
let available: Promise<{ ok: boolean; reason?: string }> | undefined;

/**
 * Runs `/bin/sh -c <command>` in bubblewrap: the allowlisted view of the host (sandbox-view.ts),
 * only the worktree writable (its `.git` not), fresh /proc and /tmp, no network unless the
 * request asks for the setup proxy or a model endpoint, no capabilities, an empty environment
 * apart from the basics and `req.env`, stdin from /dev/null, and wall-time, output and process limits.
 */
export async function runSandboxed(req: SandboxRequest, opts: SandboxOptions = {}): Promise<SandboxOutcome> {
  const box = await prepareSandbox(
    { cwd: req.cwd, argv: limited(req.command), ...(req.env && { env: req.env }), ...(req.mounts && { mounts: req.mounts }), ...(req.network && { network: req.network }) },
    opts,
  );
  try {
    const outcome = await execute(box.argv, box.cwd, box.env, req);
    const refused = box.refused();
    if (refused.length === 0) return outcome;
    // Say why an install could not reach a host, where a person reads the output.
    const note = `\n[shopfloor] egress refused: ${[...new Set(refused)].join(", ")} (not in network.allow or SHOPFLOOR_EGRESS_ALLOW)\n`;
    return { ...outcome, output: outcome.output + note };
  } finally {
    await box.close();
  }
}

export interface SandboxSpec {
  cwd: string;
  /** The program and its arguments, run inside. */
  argv: string[];
  env?: Record<string, string>;
  mounts?: readonly SandboxMount[];
  network?: SandboxNetwork;
}

export interface PreparedSandbox {
  /** Spawn this (in its own process group), with exactly `env`, in `cwd`. */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** The model endpoint as the command inside must call it, for `network.kind === "model"`. */
  modelUrl?: string;
  refused(): string[];
  /** Stops the proxy and removes its socket; call after the process is gone. */
  close(): Promise<void>;
}

/**
 * The argv and environment of a sandboxed program, with its proxy started: for callers that spawn
 * the process themselves (the CLI agents stream its output). `runSandboxed` is the common case.
 */
export async function prepareSandbox(spec: SandboxSpec, opts: SandboxOptions = {}): Promise<PreparedSandbox> {
  const cwd = realpathSync(spec.cwd);
  if (!statSync(cwd).isDirectory()) throw new Error(`sandbox: not a directory: ${cwd}`);
  const env = sandboxEnv(spec.env);
  const check = await sandboxAvailable();
  if (!check.ok) {
    if (process.env.SHOPFLOOR_ALLOW_UNSANDBOXED !== "1") {
      throw new Error(`sandbox: bubblewrap cannot run (${check.reason}); set SHOPFLOOR_ALLOW_UNSANDBOXED=1 only if you accept that`);
    }
    warnUnsandboxed(check.reason);
    return unsandboxed(spec, cwd, env);
  }
  const mounts = spec.mounts ?? [];
  if (!spec.network) {
    const argv = [bwrapBinary(), ...viewArgs({ cwd, mounts, toolchains: opts.toolchains ?? [] }), ...namespaceArgs(cwd), "--", ...spec.argv];
    return { argv, env, cwd, refused: () => [], close: async () => undefined };
  }
  const dir = await mkdtemp(join(tmpdir(), "shopfloor-net-"));
  let proxy: EgressProxy;
  try {
    proxy = await startProxy(spec.network, join(dir, "proxy.sock"));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const port = spec.network.kind === "egress" ? EGRESS_PORT : MODEL_PORT;
  if (spec.network.kind === "egress") Object.assign(env, proxyEnv(`http://127.0.0.1:${port}`));
  const view = viewArgs({ cwd, mounts, toolchains: opts.toolchains ?? [], run: { source: dir, target: RUN_DIR } });
  // Inside, a tiny bridge turns the sandbox's own loopback port into the proxy's Unix socket;
  // the command starts once it listens. There is no other way out: no network namespace is shared.
  const bridged = ["/bin/sh", "-c", BRIDGE_SCRIPT, "sh", realpathSync(process.execPath), bridgeSource, String(port), `${RUN_DIR}/proxy.sock`, ...spec.argv];
  return {
    argv: [bwrapBinary(), ...view, ...namespaceArgs(cwd), "--", ...bridged],
    env,
    cwd,
    ...(spec.network.kind === "model" && { modelUrl: `http://127.0.0.1:${port}` }),
    refused: () => proxy.refused(),
    close: async () => {
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const BRIDGE_SCRIPT = [
  'node=$1; src=$2; port=$3; sock=$4; shift 4',
  'ready=/tmp/.shopfloor-bridge-ready',
  '"$node" -e "$src" "$port" "$sock" "$ready" </dev/null >/dev/null 2>&1 &',
  'i=0; while [ ! -e "$ready" ]; do i=$((i+1)); if [ $i -gt 1000 ]; then echo "shopfloor: the network bridge did not start" >&2; exit 125; fi; sleep 0.01; done',
  'exec "$@"',
].join("\n");

function startProxy(network: SandboxNetwork, socketPath: string): Promise<EgressProxy> {
  return network.kind === "egress"
    ? startEgressProxy({ socketPath, allow: network.allow })
    : startModelProxy({ socketPath, upstream: network.upstream, headers: network.headers });
}

function proxyEnv(url: string): Record<string, string> {
  return { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url };
}

function namespaceArgs(cwd: string): string[] {
  // No --clearenv/--setenv: bwrap is started with exactly the sandbox environment instead, so
  // values of `req.env` never sit in an argv that every user on the host can read.
  return ["--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--chdir", cwd];
}

function warnUnsandboxed(reason: string | undefined): void {
  if (warnedUnsandboxed) return;
  warnedUnsandboxed = true;
  process.stderr.write(
    `\n*** SHOPFLOOR WARNING: bubblewrap unavailable (${reason}); SHOPFLOOR_ALLOW_UNSANDBOXED=1 so agent ` +
      `commands run WITHOUT a sandbox: with network, and able to read and write anywhere this user can. ***\n\n`,
  );
}

/**
 * Without bubblewrap (only when the operator allowed it): the same environment and limits, the
 * proxies reached on a host loopback port. Nothing enforces the allowlist or the mounts here.
 */
async function unsandboxed(spec: SandboxSpec, cwd: string, env: Record<string, string>): Promise<PreparedSandbox> {
  if (!spec.network) return { argv: spec.argv, env, cwd, refused: () => [], close: async () => undefined };
  const dir = await mkdtemp(join(tmpdir(), "shopfloor-net-"));
  const proxy = await startProxy(spec.network, join(dir, "proxy.sock"));
  const forward: Server = createServer((s) => {
    const up = connect(proxy.socketPath);
    s.pipe(up).pipe(s);
    s.on("error", () => up.destroy());
    up.on("error", () => s.destroy());
  });
  await new Promise<void>((done) => forward.listen(0, "127.0.0.1", done));
  const url = `http://127.0.0.1:${(forward.address() as { port: number }).port}`;
  if (spec.network.kind === "egress") Object.assign(env, proxyEnv(url));
  return {
    argv: spec.argv,
    env,
    cwd,
    ...(spec.network.kind === "model" && { modelUrl: url }),
    refused: () => proxy.refused(),
    close: async () => {
      await new Promise<void>((done) => forward.close(() => done()));
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether bubblewrap can start here with the namespaces we ask for (checked once per process). */
export function sandboxAvailable(): Promise<{ ok: boolean; reason?: string }> {
  available ??= new Promise((done) => {
    const bwrap = bwrapBinary();
    const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all", "--cap-drop", "ALL", "--", "/bin/true"];
    const child = spawn(bwrap, args, { stdio: ["ignore", "ignore", "pipe"], env: { PATH: SANDBOX_PATH } });
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
    child.on("error", (e) => done({ ok: false, reason: e.message }));
    child.on("close", (code) => done(code === 0 ? { ok: true } : { ok: false, reason: err.trim() || `bwrap exited ${code}` }));
  });
  return available;
}

/** SHOPFLOOR_BWRAP names the binary where it is not on the standard PATH. */
function bwrapBinary(): string {
  return process.env.SHOPFLOOR_BWRAP || "bwrap";
}

function sandboxEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: SANDBOX_PATH, HOME: "/tmp", TMPDIR: "/tmp", LANG: "C.UTF-8", CI: "1", ...extra };
}

/** The command under a process-count limit where `prlimit` exists (it binds non-root users). */
function limited(command: string): string[] {
  const sh = ["/bin/sh", "-c", command];
  return existsSync("/usr/bin/prlimit") ? ["/usr/bin/prlimit", `--nproc=${MAX_PROCESSES}`, "--", ...sh] : sh;
}

async function execute(argv: string[], cwd: string, env: Record<string, string>, req: SandboxRequest): Promise<SandboxOutcome> {
  const started = Date.now();
  const group = await pidsGroup();
  // A tiny wrapper joins the pids cgroup *before* exec, so no fork can escape the limit, and
  // folds stderr into stdout so the output keeps its real order.
  const wrapper = group ? 'exec 2>&1; echo $$ > "$0/cgroup.procs" || exit 125; exec "$@"' : 'exec 2>&1; exec "$@"';
  const child = spawn("/bin/sh", ["-c", wrapper, group ?? "sh", ...argv], {
    cwd,
    env, // bwrap's own init (pid 1 inside) keeps this environ: it must hold nothing secret either
    stdio: ["ignore", "pipe", "ignore"],
    detached: true, // own process group, so the timeout can kill it all at once
  });
  const tail = new OutputTail(req.maxOutputBytes);
  child.stdout.on("data", (b: Buffer) => tail.push(b));
  let timedOut = false;
  let aborted = false;
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, req.timeoutMs);
  const onAbort = () => {
    aborted = true;
    kill();
  };
  if (req.signal?.aborted) onAbort();
  else req.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const exitCode = await new Promise<number>((done, fail) => {
      child.on("error", fail);
      child.on("close", (code, signal) => done(code ?? 128 + signalNumber(signal)));
    });
    return {
      exitCode: timedOut ? TIMEOUT_EXIT : exitCode,
      ms: Date.now() - started,
      output: tail.text(),
      timedOut,
      truncated: tail.truncated,
      ...(aborted ? { aborted } : {}),
    };
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener("abort", onAbort);
    if (group) await removeGroup(group);
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGSEGV: 11, SIGABRT: 6 };
  return (signal && numbers[signal]) || 1;
}

/** Keeps the last `max` bytes: a failing test prints its verdict at the end. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {}

  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    if (this.size > this.max * 2 + 65536) this.compact();
  }

  text(): string {
    this.compact();
    let buf = Buffer.concat(this.chunks);
    // Do not start in the middle of a UTF-8 character.
    let skip = 0;
    while (this.truncated && skip < 3 && skip < buf.length && (buf[skip]! & 0xc0) === 0x80) skip++;
    buf = buf.subarray(skip);
    return buf.toString("utf8");
  }

  private compact(): void {
    if (this.size <= this.max) return;
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(all.length - this.max)];
    this.size = this.max;
    this.truncated = true;
  }
}

/**
 * A pids cgroup capped at MAX_PROCESSES, when the runner may create one. RLIMIT_NPROC does not
 * bind root (the kernel exempts uid 0), so on a root runner this is what stops a fork bomb.
 */
async function pidsGroup(): Promise<string | null> {
  for (const base of await pidsBases()) {
    const dir = join(base, `shopfloor-sandbox-${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      await mkdir(dir);
    } catch {
      continue;
    }
    try {
      await writeFile(join(dir, "pids.max"), String(MAX_PROCESSES));
      return dir;
    } catch {
      await rmdir(dir).catch(() => undefined);
    }
  }
  return null;
}

async function pidsBases(): Promise<string[]> {
  const lines = await readFile("/proc/self/cgroup", "utf8").catch(() => "");
  const bases: string[] = [];
  for (const line of lines.split("\n")) {
    const [, controllers, path] = line.split(":");
    if (path === undefined) continue;
    if (controllers?.split(",").includes("pids")) bases.push(join("/sys/fs/cgroup/pids", path));
    if (line.startsWith("0::")) bases.push(join("/sys/fs/cgroup", path));
  }
  return bases.filter((b) => existsSync(join(b, "cgroup.procs")));
}

/** The sandbox's init is gone once bwrap exits, but its children may take a moment to be reaped. */
async function removeGroup(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch {
      const procs = await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => "");
      for (const pid of procs.split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // raced with its exit
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

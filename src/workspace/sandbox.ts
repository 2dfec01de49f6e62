import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { SandboxOutcome, SandboxRequest } from "./types.js";

/** A fork bomb stops at this many processes; enough for `npm test` with workers. */
const MAX_PROCESSES = 256;
const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** GNU `timeout` convention, so a timed-out command reads the same everywhere. */
const TIMEOUT_EXIT = 124;

export interface SandboxOptions {
  /** Runner directories (state, work dir) the command must not see; mounted over with an empty tmpfs. */
  hide?: string[];
}

let warnedUnsandboxed = false;
let available: Promise<{ ok: boolean; reason?: string }> | undefined;

/**
 * Runs `/bin/sh -c <command>` in bubblewrap: read-only root, only the worktree writable (its
 * `.git` not), fresh /proc and /tmp, no network, no capabilities, an empty environment apart
 * from the basics and `req.env`, stdin from /dev/null, and wall-time, output and process limits.
 */
export async function runSandboxed(req: SandboxRequest, opts: SandboxOptions = {}): Promise<SandboxOutcome> {
  const cwd = realpathSync(req.cwd);
  if (!statSync(cwd).isDirectory()) throw new Error(`sandbox: not a directory: ${cwd}`);
  const env = sandboxEnv(req.env);
  const check = await sandboxAvailable();
  if (check.ok) return execute([bwrapBinary(), ...bwrapArgs(cwd, opts.hide ?? []), "--", ...limited(req.command)], cwd, env, req);
  if (process.env.SHOPFLOOR_ALLOW_UNSANDBOXED !== "1") {
    throw new Error(`sandbox: bubblewrap cannot run (${check.reason}); set SHOPFLOOR_ALLOW_UNSANDBOXED=1 only if you accept that`);
  }
  if (!warnedUnsandboxed) {
    warnedUnsandboxed = true;
    process.stderr.write(
      `\n*** SHOPFLOOR WARNING: bubblewrap unavailable (${check.reason}); SHOPFLOOR_ALLOW_UNSANDBOXED=1 so agent ` +
        `commands run WITHOUT a sandbox: with network, and able to write anywhere this user can. ***\n\n`,
    );
  }
  return execute(limited(req.command), cwd, env, req);
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

export function bwrapArgs(cwd: string, hide: string[]): string[] {
  const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  for (const dir of hide) {
    if (isAbsolute(dir) && existsSync(dir) && dir !== "/") args.push("--tmpfs", resolve(dir));
  }
  args.push("--bind", cwd, cwd);
  const dotGit = join(cwd, ".git");
  if (existsSync(dotGit)) {
    args.push("--ro-bind", dotGit, dotGit);
    // Re-show the repository read-only (it may sit under a hidden dir) so `git diff` etc. work.
    const common = gitCommonDir(dotGit);
    if (common && common !== dotGit) args.push("--ro-bind", common, common);
  }
  // No --clearenv/--setenv: bwrap is started with exactly the sandbox environment instead, so
  // values of `req.env` never sit in an argv that every user on the host can read.
  args.push("--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--chdir", cwd);
  return args;
}

/** For a worktree's `.git` file (`gitdir: <mirror>/worktrees/<id>`), the mirror it belongs to. */
function gitCommonDir(dotGit: string): string | null {
  try {
    if (!statSync(dotGit).isFile()) return null;
    const gitdir = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, "utf8"))?.[1]?.trim();
    if (!gitdir) return null;
    const dir = resolve(dirname(dotGit), gitdir);
    const common = readFileSync(join(dir, "commondir"), "utf8").trim();
    const path = resolve(dir, common);
    return existsSync(path) ? path : null;
  } catch {
    return null;
  }
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
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, req.timeoutMs);
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
    };
  } finally {
    clearTimeout(timer);
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

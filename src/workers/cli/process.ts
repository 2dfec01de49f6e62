import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * Spawning a CLI agent (in practice: bubblewrap around it, see sandboxed.ts): its own process
 * group, so a kill reaches everything it started; stdin closed, stdout split into lines for the
 * event parser, stderr kept only as a capped tail for the failure detail. Nothing here
 * interprets the output.
 */

export interface CliSpawn {
  bin: string;
  args: string[];
  cwd: string;
  /** The whole environment of the child: never the runner's own. */
  env: Record<string, string>;
  timeoutMs: number;
  /** Ends the run like `stop()` (a cancelled or stalled job); `CliExit.aborted` says it did. */
  signal?: AbortSignal;
  /** Called for each stdout line, in order. */
  onLine: (line: string) => void;
}

export interface CliExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The wall-clock limit ended the run. */
  timedOut: boolean;
  /** Why `stop()` ended the run, when it did (e.g. the turn cap). */
  stopped?: string;
  /** The caller's signal ended the run. */
  aborted?: boolean;
  /** The spawn itself failed (binary missing, not executable). */
  spawnError?: string;
  stderrTail: string;
  ms: number;
}

export interface CliProcess {
  done: Promise<CliExit>;
  /** Ends the run early: the process group gets SIGTERM, then SIGKILL after a grace period. */
  stop(reason: string): void;
}

/** Enough of the end of stderr to see why a CLI died, not its whole debug log. */
const STDERR_TAIL_BYTES = 8 * 1024;
/** One stdout record larger than this is cut: command output inside an event can be huge. */
const MAX_LINE_BYTES = 4 * 1024 * 1024;
/** Time between SIGTERM and SIGKILL: CLIs get to flush, not to linger. */
const KILL_GRACE_MS = 2_000;
/** After the CLI exits, how long to wait for stdout to drain if a stray child holds it open. */
const DRAIN_MS = 2_000;

export function spawnCli(opts: CliSpawn): CliProcess {
  const started = Date.now();
  let stopped: string | undefined;
  let aborted = false;
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  let stderr = Buffer.alloc(0);
  let pending = "";

  const child = spawn(opts.bin, opts.args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });

  const killGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  const terminate = (): void => {
    killGroup("SIGTERM");
    killTimer ??= setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
  };

  const flushLines = (final: boolean): void => {
    const parts = pending.split("\n");
    pending = final ? "" : (parts.pop() ?? "");
    for (const line of parts) if (line.trim()) opts.onLine(line);
    if (pending.length > MAX_LINE_BYTES) {
      opts.onLine(pending.slice(0, MAX_LINE_BYTES));
      pending = "";
    }
  };
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    pending += chunk;
    flushLines(false);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = Buffer.concat([stderr, chunk]);
    if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
  });

  const timer = setTimeout(() => {
    timedOut = true;
    terminate();
  }, opts.timeoutMs);
  const onAbort = (): void => {
    if (stopped !== undefined || timedOut) return;
    aborted = true;
    terminate();
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  const done = new Promise<CliExit>((resolve) => {
    let spawnError: string | undefined;
    child.on("error", (error) => {
      spawnError = error.message;
      if (child.pid === undefined) finish(null, null);
    });
    child.on("close", (exitCode, signal) => finish(exitCode, signal));
    child.on("exit", (exitCode, signal) => {
      // Tools the CLI started may outlive it and hold stdout open: the group goes with it.
      killGroup("SIGKILL");
      setTimeout(() => finish(exitCode, signal), DRAIN_MS).unref();
    });
    let finished = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
      flushLines(true);
      resolve({
        exitCode,
        signal,
        timedOut,
        ...(stopped !== undefined && { stopped }),
        ...(aborted && { aborted }),
        ...(spawnError !== undefined && { spawnError }),
        stderrTail: stderr.toString("utf8"),
        ms: Date.now() - started,
      });
    };
  });

  return {
    done,
    stop(reason) {
      if (stopped !== undefined || aborted || timedOut) return;
      stopped = reason;
      terminate();
    },
  };
}

/** The absolute path of a package's bin, resolved from this module (works from src and dist). */
export function packageBin(pkg: string, name: string): string {
  const { dir, manifest } = packageOf(pkg);
  const rel = typeof manifest.bin === "string" ? manifest.bin : manifest.bin?.[name];
  if (!rel) throw new Error(`${pkg} has no bin named ${name}`);
  return path.join(dir, rel);
}

/**
 * The directories a package needs at run time: its own and those of its installed optional
 * dependencies, where both CLIs keep their native binary (one package per platform). The
 * sandbox shows nothing of the app's node_modules, so these are mounted read-only.
 */
export function packageDirs(pkg: string): string[] {
  const { dir, manifest } = packageOf(pkg);
  const resolveFrom = createRequire(path.join(dir, "package.json"));
  const dirs = [dir];
  for (const dep of Object.keys(manifest.optionalDependencies ?? {})) {
    try {
      dirs.push(path.dirname(resolveFrom.resolve(`${dep}/package.json`)));
    } catch {
      // Another platform's binary: not installed here.
    }
  }
  return dirs;
}

interface Manifest {
  bin?: string | Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function packageOf(pkg: string): { dir: string; manifest: Manifest } {
  // Resolved through symlinks (pnpm's store): the path is the one mounted and run inside.
  const manifestPath = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
  return { dir: path.dirname(manifestPath), manifest: JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest };
}

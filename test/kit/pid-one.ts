/**
 * A command run as PID 1 of a fresh pid namespace with its own /proc, as a container runs its
 * entry point: `unshare --fork --pid --mount-proc`. Each start gets a new namespace, so every
 * incarnation of the app has pid 1, which is what makes a pid alone useless as a lock owner.
 * Needs root (or CAP_SYS_ADMIN) and util-linux's `unshare`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";

export interface PidOne {
  /** Everything the command printed on stdout so far. */
  stdout(): string;
  /** Resolves with the first stdout line that starts with `prefix`; rejects if the process ends first. */
  line(prefix: string): Promise<string>;
  /** The exit code (or signal) and stderr, once the namespace's PID 1 is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** SIGKILL the command itself (PID 1 inside, some other pid outside), not the `unshare` around it. */
  kill(): Promise<void>;
}

export function spawnAsPidOne(command: string[], opts: { cwd: string }): PidOne {
  // --kill-child: should the test die first, the namespace dies with `unshare`.
  const proc: ChildProcess = spawn("unshare", ["--fork", "--pid", "--mount-proc", "--kill-child", ...command], {
    cwd: opts.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters: (() => void)[] = [];
  proc.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
    for (const wake of waiters.splice(0)) wake();
  });
  proc.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once("close", (code, signal) => {
      for (const wake of waiters.splice(0)) wake();
      resolve({ code, signal, stderr: err });
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    stdout: () => out,
    async line(prefix) {
      for (;;) {
        const found = out.split("\n").find((l, i, all) => i < all.length - 1 && l.startsWith(prefix));
        if (found !== undefined) return found;
        if (done) throw new Error(`the process ended without printing "${prefix}…": ${err.trim() || "(no stderr)"}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    exited,
    async kill() {
      if (done) return;
      const inner = await childOf(proc.pid!);
      process.kill(inner ?? proc.pid!, "SIGKILL");
      await exited;
    },
  };
}

/** The one child `unshare --fork` made: the namespace's PID 1, seen from outside. */
async function childOf(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  const first = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(first) && first > 0 ? first : undefined;
}

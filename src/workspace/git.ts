import { spawn } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A git command exited non-zero. `stderr` is git's own message; it never holds a token. */
export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args.join(" ")} failed (exit ${code ?? "signal"}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    this.name = "GitError";
  }
}

export interface GitOptions {
  cwd: string;
  /** Added last; this is how a token (credentials.ts) or an author reaches the git child only. */
  env?: Record<string, string>;
  /** Written to git's stdin (e.g. a commit message for `commit -F -`). */
  input?: string;
}

let defaultHome: string | undefined;

/**
 * An empty HOME of our own, so no ~/.gitconfig or credential store of the host user applies.
 * One per uid (not per process, so test runs leave no litter), and only if we really own it.
 */
function gitHome(): string {
  if (defaultHome) return defaultHome;
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `shopfloor-git-home-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  defaultHome = st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : mkdtempSync(join(tmpdir(), "shopfloor-git-home-"));
  return defaultHome;
}

/**
 * The environment git runs with: nothing inherited but PATH, so no GIT_DIR, GIT_TRACE,
 * askpass program or system config of the host can change what a command does or logs.
 */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: gitHome(),
    LANG: "C",
    LC_ALL: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    ...extra,
  };
}

/** Runs git without a shell; resolves with its output, throws `GitError` on a non-zero exit. */
export function runGit(args: string[], opts: GitOptions): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, {
      cwd: opts.cwd,
      env: gitEnv(opts.env),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === 0) resolve({ stdout, stderr });
      else reject(new GitError(args, code, stderr));
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on("error", () => undefined); // git may exit before reading all of it
      child.stdin.end(opts.input);
    }
  });
}

import { spawn } from "node:child_process";
import { GitError, gitEnv } from "./git.js";

/**
 * The files that would conflict if `head` were merged into `tip`, found by a merge in memory
 * (`git merge-tree --write-tree`, git 2.38+): no worktree, no index, no ref changes; it only
 * writes the merged tree's objects into the repository. Empty when the merge is clean.
 */
export async function mergeConflicts(repoDir: string, tip: string, head: string): Promise<string[]> {
  const args = ["-c", "gc.auto=0", "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", "--end-of-options", tip, head];
  const { code, stdout, stderr } = await gitWithStatus(args, repoDir);
  // Exit 1 is git's "the merge has conflicts"; anything else but 0 is a real error.
  if (code !== 0 && code !== 1) throw new GitError(args, code, stderr);
  if (code === 0) return [];
  // Output: the tree id, then each conflicted path, all NUL-terminated; a path may repeat per stage.
  const [, ...paths] = stdout.split("\0").filter((s) => s !== "");
  return [...new Set(paths)];
}

/** runGit, but an exit code is a value: merge-tree reports conflicts on stdout with exit 1. */
function gitWithStatus(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, env: gitEnv(), stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
    );
  });
}

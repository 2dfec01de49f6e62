import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { runGit } from "./git.js";
import type { RepoName } from "./types.js";
import type { Workspace } from "./workspace.js";

/** A finished run's worktrees: every job labels its worktree `<issue>-...` (handle.ts, review.ts). */
export interface RunWorktrees {
  repo: RepoName;
  issueNumber: number;
  /** Commits known to be on GitHub (the run's head): work at or below them is not lost. */
  pushed: string[];
}

export interface RunWorktreesCleanup {
  removed: string[];
  kept: { path: string; reason: string }[];
}

/**
 * Removes the worktrees a finished run left behind (a job's own `finally` removes its worktree,
 * so these are leftovers of a killed process), except one holding commits that no branch of the
 * mirror and no pushed commit of the run contains: that is work that exists nowhere else, and it
 * is kept and reported. Uncommitted edits are a killed attempt's half-work, which the retried
 * attempt redid; they go. The mirror's branches are origin's (every sync fetches with
 * `--prune`), so a run branch deleted on GitHub leaves the mirror by itself, and one still on
 * GitHub is a person's to delete: there is no local-only branch to remove.
 */
export async function cleanRunWorktrees(workspace: Workspace, target: RunWorktrees): Promise<RunWorktreesCleanup> {
  const root = dirname(workspace.worktreePath(target.repo, "run"));
  const prefix = `${target.issueNumber}-`;
  const names = (await readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
  const outcome: RunWorktreesCleanup = { removed: [], kept: [] };
  for (const name of names.sort()) {
    const path = join(root, name);
    const reason = await unpushedWork(path, workspace.mirrorPath(target.repo), target.pushed);
    if (reason) {
      outcome.kept.push({ path, reason });
      continue;
    }
    await workspace.removeWorktree(path);
    outcome.removed.push(path);
  }
  return outcome;
}

/** Why removing this worktree could lose work, or undefined when it cannot. */
async function unpushedWork(path: string, mirror: string, pushed: string[]): Promise<string | undefined> {
  // A directory git never finished registering (a kill inside `worktree add`) holds no commit.
  if (!existsSync(join(path, ".git"))) return undefined;
  const git = (args: string[]) => runGit(["-c", "core.fsmonitor=false", ...args], { cwd: path });
  let head: string;
  try {
    head = (await git(["rev-parse", "--verify", "--quiet", "HEAD"])).stdout.trim();
  } catch {
    return undefined; // no commit checked out at all
  }
  // Pushed commits the mirror no longer has (garbage-collected) cannot vouch for anything.
  const known: string[] = [];
  for (const sha of pushed) {
    const present = await runGit(["cat-file", "-e", `${sha}^{commit}`], { cwd: mirror }).then(
      () => true,
      () => false,
    );
    if (present) known.push(sha);
  }
  try {
    const { stdout } = await git(["rev-list", "--max-count=5", head, "--not", "--branches", "--tags", ...known, "--"]);
    const unpushed = stdout.split("\n").filter(Boolean);
    if (unpushed.length > 0) return `commits on no branch and never pushed: ${unpushed.map((s) => s.slice(0, 12)).join(", ")}`;
  } catch (error) {
    return `could not check for unpushed commits: ${(error as Error).message}`;
  }
  return undefined;
}

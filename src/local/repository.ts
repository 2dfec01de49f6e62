import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { GitError, runGit } from "../workspace/git.js";

/** A local git repository a run works on, as `local/<directory name>`. */
export interface LocalRepository {
  /** The work tree's top level: the run's origin. */
  dir: string;
  /** Its own git directory (the common one of a linked worktree), where Shopfloor keeps its state. */
  gitDir: string;
  ref: { owner: string; name: string };
}

export interface BaseBranch {
  branch: string;
  sha: string;
}

/** Where a run's state lives: inside the git directory, so the work tree stays clean. */
export function localDirs(gitDir: string) {
  const root = join(gitDir, "shopfloor");
  return { root, state: join(root, "state"), work: join(root, "work"), github: join(root, "github.json"), reports: join(root, "reports"), log: join(root, "shopfloor.log") };
}

/** The repository at `path`, or what is wrong with it, in words for the person who typed it. */
export async function findRepository(path: string): Promise<LocalRepository | string> {
  if (!existsSync(path) || !statSync(path).isDirectory()) return `${path} is not a directory`;
  const git = (args: string[]) => runGit(args, { cwd: path }).then((r) => r.stdout.trim());
  let dir: string;
  try {
    dir = await git(["rev-parse", "--show-toplevel"]);
  } catch (error) {
    if (error instanceof GitError) return `${path} is not a git repository with a work tree (git: ${error.stderr.trim().split("\n")[0]})`;
    throw error;
  }
  const gitDir = await git(["rev-parse", "--path-format=absolute", "--git-common-dir"]);
  const name = basename(dir).replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[.-]+/, "") || "repo";
  return { dir, gitDir, ref: { owner: "local", name } };
}

/**
 * The branch the run starts from: `base`, or the branch checked out. It must exist and have a
 * commit; when it is checked out, tracked files must be committed, because the run builds on
 * the last commit and a person would expect their edits to be part of it.
 */
export async function checkBase(repo: LocalRepository, base: string | undefined): Promise<BaseBranch | string> {
  const git = (args: string[]) => runGit(args, { cwd: repo.dir }).then((r) => r.stdout.trim());
  const current = await git(["symbolic-ref", "--quiet", "--short", "HEAD"]).catch(() => undefined);
  const branch = base ?? current;
  if (branch === undefined) return "HEAD is detached: name the branch to start from with --base <branch>";
  const sha = await git(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}^{commit}`]).catch(() => undefined);
  if (!sha) {
    const branches = (await git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"])).split("\n").filter(Boolean);
    return branches.length === 0
      ? `${repo.dir} has no commit yet: commit something to start from`
      : `there is no branch "${branch}" to start from (branches: ${branches.filter((b) => !b.startsWith("shopfloor/")).join(", ")})`;
  }
  if (branch === current) {
    // Staged or not, against the commit the run would start from; untracked files are left out.
    const files = (await git(["diff", "HEAD", "--name-only", "--no-renames"])).split("\n").filter(Boolean);
    if (files.length > 0) {
      return `the work tree has uncommitted changes (${files.slice(0, 3).join(", ")}${files.length > 3 ? ", …" : ""}): commit or stash them first, the run starts from the last commit on ${branch}`;
    }
  }
  return { branch, sha };
}

import { runGit } from "../workspace/git.js";

/** Who a trial's commits are by. */
export const trialAuthor = {
  GIT_AUTHOR_NAME: "shopfloor/testing",
  GIT_AUTHOR_EMAIL: "testing@shopfloor.invalid",
  GIT_COMMITTER_NAME: "shopfloor/testing",
  GIT_COMMITTER_EMAIL: "testing@shopfloor.invalid",
};

/**
 * Makes `origin` a new bare repository whose `main` is one commit of `dir`'s working tree as it
 * is: uncommitted edits included (a team tries a card before committing it), what `.gitignore`
 * hides left out, `dir` itself never written to. A separate git dir also means a detached CI
 * checkout, or a directory that is no repository at all, works the same.
 */
export async function snapshotDirectory(dir: string, origin: string): Promise<void> {
  await runGit(["init", "--bare", "--quiet", "--initial-branch=main", origin], { cwd: dir });
  const git = (args: string[]) => runGit(["--git-dir", origin, "--work-tree", dir, "-c", "core.hooksPath=/dev/null", ...args], { cwd: dir, env: trialAuthor });
  await git(["add", "--all"]);
  await git(["commit", "--quiet", "--allow-empty", "-m", "shopfloor/testing: snapshot of the working tree"]);
}

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runGit } from "../../src/workspace/git.js";

/** A file's new content, or null to delete it. */
export type FileChanges = Record<string, string | Buffer | null>;

export interface LocalRepo {
  dir: string;
  git(args: string[]): Promise<string>;
  /** Writes and deletes files, commits everything, and returns the new commit's sha. */
  commit(changes: FileChanges, message?: string): Promise<string>;
  /** `git mv`, staged for the next commit. */
  move(from: string, to: string): Promise<void>;
  remove(): Promise<void>;
}

const who = { GIT_AUTHOR_NAME: "Test", GIT_AUTHOR_EMAIL: "test@example.com", GIT_COMMITTER_NAME: "Test", GIT_COMMITTER_EMAIL: "test@example.com" };

/** A throwaway non-bare repository on `main`, for tests of what git itself reports. */
export async function makeLocalRepo(prefix = "local-repo-"): Promise<LocalRepo> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const git = async (args: string[]) => (await runGit(args, { cwd: dir, env: who })).stdout;
  await git(["init", "--quiet", "--initial-branch=main"]);
  return {
    dir,
    git,
    async commit(changes, message = "change") {
      for (const [path, content] of Object.entries(changes)) {
        const abs = join(dir, path);
        if (content === null) {
          await rm(abs, { force: true });
        } else {
          await mkdir(dirname(abs), { recursive: true });
          await writeFile(abs, content);
        }
      }
      await git(["add", "-A"]);
      await git(["commit", "--quiet", "--allow-empty", "-m", message]);
      return (await git(["rev-parse", "HEAD"])).trim();
    },
    async move(from, to) {
      await mkdir(dirname(join(dir, to)), { recursive: true });
      await git(["mv", from, to]);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

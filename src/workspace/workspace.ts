import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { credentialArgs } from "./credentials.js";
import { GitError, runGit } from "./git.js";
import { gitRemoteUrl } from "./remote.js";
import type { CommitOutcome, GitTokenSource, RepoName } from "./types.js";

type Installed = RepoName & { installationId: number };

/** No repo hook or background gc ever runs from a command of ours. */
const NO_HOOKS = ["-c", "core.hooksPath=/dev/null"];
const NAME = /^[A-Za-z0-9_.-]+$/;
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** A label (run id, subtask id, ...) as a directory name: no separators, no dot-names, bounded. */
export function safeLabel(s: string): string {
  const cleaned = s
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^[.-]+/, "")
    .replace(/-+$/, "")
    .slice(0, 80);
  return cleaned === "" ? "worktree" : cleaned;
}

function checkName(repo: RepoName): void {
  for (const part of [repo.owner, repo.name]) {
    if (!NAME.test(part) || part === "." || part === "..") {
      throw new Error(`workspace: not a repository name: ${JSON.stringify(part)}`);
    }
  }
}

/**
 * Git checkouts for runs: one bare mirror per repository and one detached worktree per
 * subtask, all under `workDir`. Tokens reach git per command through the credential helper.
 */
export class Workspace {
  private readonly workDir: string;
  private readonly tokenFor: GitTokenSource;
  private readonly remoteUrlFor: (repo: RepoName) => string;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(opts: { workDir: string; tokenFor: GitTokenSource; remoteUrlFor?: (repo: RepoName) => string }) {
    this.workDir = resolve(opts.workDir);
    this.tokenFor = opts.tokenFor;
    this.remoteUrlFor = opts.remoteUrlFor ?? ((repo) => gitRemoteUrl(repo));
  }

  mirrorPath(repo: RepoName): string {
    checkName(repo);
    return join(this.workDir, "mirrors", repo.owner, `${repo.name}.git`);
  }

  worktreePath(repo: RepoName, label: string): string {
    checkName(repo);
    return join(this.workDir, "worktrees", repo.owner, repo.name, safeLabel(label));
  }

  private syncedMirror(repo: RepoName): string {
    const mirror = this.mirrorPath(repo);
    if (!existsSync(mirror)) throw new Error(`workspace: no mirror of ${repo.owner}/${repo.name} yet; call syncMirror first`);
    return mirror;
  }

  /** Clones the bare mirror the first time, then fetches every branch (pruning deleted ones). */
  async syncMirror(repo: Installed): Promise<string> {
    const mirror = this.mirrorPath(repo);
    const url = this.remoteUrlFor(repo);
    const cred = credentialArgs(await this.tokenFor(repo));
    const env = { ...this.env(), ...cred.env };
    await this.locked(repo, async () => {
      if (!existsSync(mirror)) {
        // Clone beside the final path and rename, so a crash never leaves a half mirror.
        const tmp = `${mirror}.tmp-${randomBytes(4).toString("hex")}`;
        await mkdir(dirname(mirror), { recursive: true });
        try {
          await runGit([...cred.args, ...NO_HOOKS, "clone", "--bare", "--quiet", "--", url, tmp], { cwd: this.workDir, env });
          await runGit(["config", "gc.autoDetach", "false"], { cwd: tmp, env: this.env() });
          await rename(tmp, mirror);
        } finally {
          await rm(tmp, { recursive: true, force: true });
        }
        return;
      }
      const current = await runGit(["config", "--get", "remote.origin.url"], { cwd: mirror, env: this.env() }).catch(() => null);
      if (current?.stdout.trim() !== url) {
        await runGit(["remote", current ? "set-url" : "add", "origin", url], { cwd: mirror, env: this.env() });
      }
      await runGit([...cred.args, ...NO_HOOKS, "fetch", "--quiet", "--prune", "--no-tags", "origin", "+refs/heads/*:refs/heads/*"], {
        cwd: mirror,
        env,
      });
    });
    return mirror;
  }

  /** The commit a branch, tag or sha names in the mirror (after `syncMirror`). */
  /** A file's text at a commit, read from the mirror (no checkout); undefined when absent. */
  async readFileAt(repo: RepoName, sha: string, path: string): Promise<string | undefined> {
    try {
      const { stdout } = await runGit(["cat-file", "blob", `${sha}:${path}`], { cwd: this.syncedMirror(repo), env: this.env() });
      return stdout;
    } catch {
      return undefined;
    }
  }

  /** Names at the root of the tree at `sha` (files and directories), read from the mirror. */
  async rootNames(repo: RepoName, sha: string): Promise<string[]> {
    if (!SHA.test(sha)) throw new Error(`workspace: not a full commit sha: ${JSON.stringify(sha)}`);
    const { stdout } = await runGit(["ls-tree", "--name-only", "-z", sha], { cwd: this.syncedMirror(repo), env: this.env() });
    return stdout.split("\0").filter(Boolean);
  }

  /** The blob id of each path at `sha` ("" when absent): equal ids, equal content. */
  async blobIds(repo: RepoName, sha: string, paths: readonly string[]): Promise<Record<string, string>> {
    const ids: Record<string, string> = {};
    if (paths.length === 0) return ids;
    const { stdout } = await runGit(["ls-tree", "-z", sha, "--", ...paths], { cwd: this.syncedMirror(repo), env: this.env() });
    for (const p of paths) ids[p] = "";
    for (const line of stdout.split("\0").filter(Boolean)) {
      const [info, path] = line.split("\t");
      if (path !== undefined && info) ids[path] = info.split(" ")[2] ?? "";
    }
    return ids;
  }

  async resolveRef(repo: RepoName, ref: string): Promise<string> {
    const { stdout } = await runGit(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], {
      cwd: this.syncedMirror(repo),
      env: this.env(),
    });
    return stdout.trim();
  }

  /** A fresh worktree detached at `sha`; a leftover from a crashed attempt with the same label is replaced. */
  async addWorktree(repo: RepoName, sha: string, label: string): Promise<string> {
    if (!SHA.test(sha)) throw new Error(`workspace: not a full commit sha: ${JSON.stringify(sha)}`);
    const mirror = this.syncedMirror(repo);
    const path = this.worktreePath(repo, label);
    await this.locked(repo, async () => {
      if (existsSync(path)) await this.dropWorktree(mirror, path);
      await runGit(["worktree", "prune"], { cwd: mirror, env: this.env() });
      await mkdir(dirname(path), { recursive: true });
      await runGit([...NO_HOOKS, "worktree", "add", "--quiet", "--detach", path, sha], { cwd: mirror, env: this.env() });
    });
    return path;
  }

  /** Stages everything and commits it without hooks; null when the worktree has no change. */
  async commitAll(worktree: string, message: string, author: { name: string; email: string }): Promise<CommitOutcome | null> {
    const git = (args: string[], extra: { env?: Record<string, string>; input?: string } = {}) =>
      runGit([...NO_HOOKS, "-c", "gc.auto=0", "-c", "commit.gpgSign=false", ...args], {
        cwd: worktree,
        env: { ...this.env(), ...extra.env },
        ...(extra.input === undefined ? {} : { input: extra.input }),
      });
    await git(["add", "-A"]);
    const staged = await git(["diff", "--cached", "--name-only", "--no-renames", "-z"]);
    const filesChanged = staged.stdout.split("\0").filter((f) => f !== "");
    if (filesChanged.length === 0) return null;
    const identity = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email,
    };
    await git(["commit", "--quiet", "--no-verify", "--cleanup=strip", "-F", "-"], { env: identity, input: message });
    const sha = (await git(["rev-parse", "HEAD"])).stdout.trim();
    const diffStat = (await git(["show", "--stat", "--format=", "--no-color", "HEAD"])).stdout.trim();
    return { sha, filesChanged, diffStat };
  }

  /** Force-pushes `sha` to Shopfloor's own run branch on origin, authenticated per command. */
  /**
   * Pushes `sha` to the run branch. The branch is Shopfloor's, so it may be moved backwards (a
   * retried subtask replaces a commit of its own) — but never over a commit someone else made:
   * with `ownEmail`, commits on the remote branch that `sha` does not contain must all be
   * committed by that identity, and the push is leased on the tip that was checked.
   */
  async push(repo: Installed, sha: string, branch: string, opts: { ownEmail?: string; expectTip?: string } = {}): Promise<void> {
    if (!SHA.test(sha)) throw new Error(`workspace: not a full commit sha: ${JSON.stringify(sha)}`);
    const mirror = this.syncedMirror(repo);
    await runGit(["check-ref-format", `refs/heads/${branch}`], { cwd: mirror, env: this.env() });
    const cred = credentialArgs(await this.tokenFor(repo));
    await this.locked(repo, async () => {
      const remoteTip =
        opts.expectTip ?? (await runGit(["for-each-ref", "--format=%(objectname)", `refs/heads/${branch}`], { cwd: mirror, env: this.env() })).stdout.trim();
      if (remoteTip && opts.ownEmail) {
        const { stdout } = await runGit(["log", "--format=%ce", `${sha}..${remoteTip}`], { cwd: mirror, env: this.env() });
        const strangers = [...new Set(stdout.split("\n").filter((e) => e && e !== opts.ownEmail))];
        if (strangers.length > 0) {
          throw Object.assign(new Error(`${branch} has commits by ${strangers.join(", ")} that this push would discard`), {
            class: "permanent",
            reason: "policy_violation",
            detail: `${branch} has commits by someone else (${strangers.join(", ")}); Shopfloor does not overwrite them`,
          });
        }
      }
      const lease = `--force-with-lease=refs/heads/${branch}:${remoteTip}`;
      await runGit([...cred.args, ...NO_HOOKS, "push", "--quiet", lease, "--no-verify", "origin", `${sha}:refs/heads/${branch}`], {
        cwd: mirror,
        env: { ...this.env(), ...cred.env },
      });
      // The mirror's branches mirror the origin: record what the origin now holds.
      await runGit(["update-ref", `refs/heads/${branch}`, sha], { cwd: mirror, env: this.env() });
    });
  }

  /**
   * Lands `commit` (made on `fromSha`) on the run branch: pushed as is when the branch has not
   * moved, else replayed onto the branch tip (cherry-pick) and pushed with a lease on that tip.
   * A lost race with another subtask's push is retried; a conflict is returned, never forced.
   */
  async integrate(
    repo: Installed,
    commit: string,
    fromSha: string,
    branch: string,
    author: { name: string; email: string },
  ): Promise<{ sha: string } | { conflicts: string[] }> {
    for (let round = 1; ; round++) {
      const mirror = await this.syncMirror(repo);
      const tip = (await runGit(["for-each-ref", "--format=%(objectname)", `refs/heads/${branch}`], { cwd: mirror, env: this.env() })).stdout.trim();
      try {
        if (!tip || tip === fromSha) {
          await this.push(repo, commit, branch, { ownEmail: author.email, expectTip: tip });
          return { sha: commit };
        }
        const worktree = await this.addWorktree(repo, tip, `integrate-${commit.slice(0, 12)}-${round}`);
        try {
          const identity = { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email };
          try {
            await runGit([...NO_HOOKS, "-c", "commit.gpgSign=false", "cherry-pick", "--allow-empty", commit], { cwd: worktree, env: { ...this.env(), ...identity } });
          } catch (error) {
            if (!(error instanceof GitError)) throw error;
            const { stdout } = await runGit(["diff", "--name-only", "--diff-filter=U"], { cwd: worktree, env: this.env() });
            await runGit(["cherry-pick", "--abort"], { cwd: worktree, env: this.env() }).catch(() => undefined);
            const conflicts = stdout.split("\n").filter(Boolean);
            if (conflicts.length > 0) return { conflicts };
            throw error;
          }
          const sha = (await runGit(["rev-parse", "HEAD"], { cwd: worktree, env: this.env() })).stdout.trim();
          await this.push(repo, sha, branch, { ownEmail: author.email, expectTip: tip });
          return { sha };
        } finally {
          await this.removeWorktree(worktree);
        }
      } catch (error) {
        // The lease refused: another subtask pushed between our fetch and our push. Replay again.
        const stale = error instanceof GitError && /stale info|rejected/.test(error.stderr);
        if (!stale || round >= 3) throw error;
      }
    }
  }

  /** Removes a worktree made by `addWorktree` and its registration; a missing one is fine. */
  async removeWorktree(path: string): Promise<void> {
    const root = join(this.workDir, "worktrees");
    const parts = relative(root, resolve(path)).split(sep);
    if (parts.length !== 3 || parts.some((p) => p === "" || p === "..")) {
      throw new Error(`workspace: not a worktree of this workspace: ${path}`);
    }
    const repo = { owner: parts[0]!, name: parts[1]! };
    const mirror = this.mirrorPath(repo);
    await this.locked(repo, async () => {
      if (!existsSync(mirror)) {
        await rm(resolve(path), { recursive: true, force: true });
        return;
      }
      await this.dropWorktree(mirror, resolve(path));
      await runGit(["worktree", "prune"], { cwd: mirror, env: this.env() });
    });
  }

  private async dropWorktree(mirror: string, path: string): Promise<void> {
    await runGit(["worktree", "remove", "--force", "--force", path], { cwd: mirror, env: this.env() }).catch((e: unknown) => {
      if (!(e instanceof GitError)) throw e; // not registered (crash before `add` finished): delete below
    });
    await rm(path, { recursive: true, force: true });
  }

  private env(): Record<string, string> {
    return { HOME: join(this.workDir, "home") };
  }

  /** Serializes mirror-mutating commands per repository: git's own lock files would collide. */
  private async locked<T>(repo: RepoName, fn: () => Promise<T>): Promise<T> {
    const key = `${repo.owner}/${repo.name}`;
    const before = this.locks.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialArgs, GitError, gitRemoteUrl, runGit, safeLabel, Workspace } from "../../src/workspace/index.js";
import { makeOriginRepo, startGitServer, type GitServer } from "../kit/git-server.js";

const TOKEN = "ghs_T0kenThatMustNeverLeak_4f9a2c";
const repo = { owner: "acme", name: "widgets", installationId: 42 };
const author = { name: "Shopfloor", email: "shopfloor@example.com" };

let tmp: string;
let originRoot: string;
let server: GitServer;
let argvLog: string;
let seedSha: string;
const savedPath = process.env.PATH;

async function origin(args: string[]): Promise<string> {
  return (await runGit(args, { cwd: join(originRoot, repo.owner, `${repo.name}.git`) })).stdout.trim();
}

function workspace(workDir: string, token = TOKEN): Workspace {
  return new Workspace({ workDir, tokenFor: async () => token, remoteUrlFor: (r) => `${server.url}/${r.owner}/${r.name}.git` });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ws-test-"));
  originRoot = join(tmp, "origin");
  seedSha = await makeOriginRepo(originRoot, repo.owner, repo.name, { "README.md": "# widgets\n", "src/a.txt": "a\n" });
  server = await startGitServer({ root: originRoot, token: TOKEN });
  // A `git` on PATH that records its argv, to prove the token is never an argument.
  const bin = join(tmp, "bin");
  argvLog = join(tmp, "argv.log");
  await mkdir(bin);
  await writeFile(join(bin, "git"), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec /usr/bin/git "$@"\n`);
  await chmod(join(bin, "git"), 0o755);
  process.env.PATH = `${bin}:${savedPath}`;
});

afterAll(async () => {
  process.env.PATH = savedPath;
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe("Workspace over smart HTTP", () => {
  it("syncs, checks out, commits and pushes with the token only in the credential helper", async () => {
    const workDir = join(tmp, "work-roundtrip");
    const ws = workspace(workDir);
    const mirror = await ws.syncMirror(repo);
    expect(mirror).toBe(join(workDir, "mirrors", "acme", "widgets.git"));
    const sha = await ws.resolveRef(repo, "main");
    expect(sha).toBe(seedSha);

    // A hook planted in the mirror must never run from our commands.
    const marker = join(tmp, "hook-ran");
    for (const hook of ["pre-commit", "post-checkout", "commit-msg", "pre-push"]) {
      await writeFile(join(mirror, "hooks", hook), `#!/bin/sh\ntouch '${marker}'\n`);
      await chmod(join(mirror, "hooks", hook), 0o755);
    }

    const wt = await ws.addWorktree(repo, sha, "run 7/generate");
    expect(wt).toBe(join(workDir, "worktrees", "acme", "widgets", "run-7-generate"));
    expect(await readFile(join(wt, "README.md"), "utf8")).toBe("# widgets\n");
    expect(await ws.commitAll(wt, "nothing", author)).toBeNull();

    await writeFile(join(wt, "src", "b.txt"), "b\n");
    await writeFile(join(wt, "README.md"), "# widgets\nnow with b\n");
    await rm(join(wt, "src", "a.txt"));
    const commit = await ws.commitAll(wt, "Add b\n\nBody line.", author);
    expect(commit).not.toBeNull();
    expect(commit!.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(commit!.filesChanged.sort()).toEqual(["README.md", "src/a.txt", "src/b.txt"]);
    expect(commit!.diffStat).toMatch(/3 files changed, 2 insertions\(\+\), 1 deletion\(-\)/);

    await ws.push(repo, commit!.sha, "shopfloor/run-7");
    expect(await origin(["rev-parse", "refs/heads/shopfloor/run-7"])).toBe(commit!.sha);
    expect(await origin(["show", "shopfloor/run-7:src/b.txt"])).toBe("b");
    expect(await origin(["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", "shopfloor/run-7"])).toBe(
      "Shopfloor <shopfloor@example.com>|Shopfloor <shopfloor@example.com>|Add b\n\nBody line.",
    );
    expect(existsSync(marker)).toBe(false);

    // Force: a second push of an unrelated commit replaces the run branch.
    await ws.push(repo, seedSha, "shopfloor/run-7");
    expect(await origin(["rev-parse", "refs/heads/shopfloor/run-7"])).toBe(seedSha);

    // Where the token is not.
    const config = await readFile(join(mirror, "config"), "utf8");
    expect(config).toContain(`url = ${server.url}/acme/widgets.git`);
    expect(config).not.toContain(TOKEN);
    const leaks: string[] = [];
    for (const file of await filesUnder(workDir)) {
      if ((await readFile(file)).includes(TOKEN)) leaks.push(file);
    }
    expect(leaks).toEqual([]);
    const argv = await readFile(argvLog, "utf8");
    expect(argv).toContain("credential.helper=!"); // the recorder did see our git commands
    expect(argv).not.toContain(TOKEN);
    expect(server.requests.some((r) => r.authorized && r.path.endsWith("/git-receive-pack"))).toBe(true);
    expect(server.requests.some((r) => r.urlHadCredentials)).toBe(false);
  });

  it("fetches new and deleted branches on the next sync", async () => {
    const ws = workspace(join(tmp, "work-sync"));
    await ws.syncMirror(repo);
    await origin(["branch", "feature", seedSha]);
    const seed = await mkdtemp(join(tmp, "seed-"));
    await runGit(["clone", "--quiet", join(originRoot, "acme", "widgets.git"), seed], { cwd: tmp });
    await writeFile(join(seed, "c.txt"), "c\n");
    await runGit(["add", "c.txt"], { cwd: seed });
    await runGit(["commit", "-qm", "c"], { cwd: seed, env: { GIT_AUTHOR_NAME: "x", GIT_AUTHOR_EMAIL: "x@x", GIT_COMMITTER_NAME: "x", GIT_COMMITTER_EMAIL: "x@x" } });
    await runGit(["push", "--quiet", "origin", "HEAD:main"], { cwd: seed });
    const head = (await runGit(["rev-parse", "HEAD"], { cwd: seed })).stdout.trim();

    await ws.syncMirror(repo);
    expect(await ws.resolveRef(repo, "main")).toBe(head);
    expect(await ws.resolveRef(repo, "feature")).toBe(seedSha);

    await origin(["branch", "-D", "feature"]);
    await ws.syncMirror(repo);
    await expect(ws.resolveRef(repo, "feature")).rejects.toBeInstanceOf(GitError);
  });

  it("fails cleanly with a wrong token and leaves no mirror behind", async () => {
    const workDir = join(tmp, "work-wrong");
    const before = server.requests.length;
    const err = await workspace(workDir, "ghs_wrong").syncMirror(repo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as GitError).stderr).toMatch(/Authentication failed|401/);
    expect((err as GitError).stderr).not.toContain("ghs_wrong");
    expect(existsSync(join(workDir, "mirrors", "acme", "widgets.git"))).toBe(false);
    expect(await readdir(join(workDir, "mirrors", "acme"))).toEqual([]);
    const tried = server.requests.slice(before);
    expect(tried.length).toBeGreaterThan(0);
    expect(tried.every((r) => !r.authorized)).toBe(true);
  });

  it("runs two worktrees of one repo at once", async () => {
    const ws = workspace(join(tmp, "work-concurrent"));
    await ws.syncMirror(repo);
    const sha = await ws.resolveRef(repo, "main");
    const [a, b] = await Promise.all([ws.addWorktree(repo, sha, "sub-a"), ws.addWorktree(repo, sha, "sub-b")]);
    expect(a).not.toBe(b);
    await Promise.all([writeFile(join(a, "a-only.txt"), "A\n"), writeFile(join(b, "b-only.txt"), "B\n")]);
    const [ca, cb] = await Promise.all([ws.commitAll(a, "a", author), ws.commitAll(b, "b", author)]);
    expect(ca!.filesChanged).toEqual(["a-only.txt"]);
    expect(cb!.filesChanged).toEqual(["b-only.txt"]);
    await Promise.all([ws.push(repo, ca!.sha, "shopfloor/a"), ws.push(repo, cb!.sha, "shopfloor/b"), ws.syncMirror(repo)]);
    expect(await origin(["rev-parse", "shopfloor/a", "shopfloor/b"])).toBe(`${ca!.sha}\n${cb!.sha}`);

    await Promise.all([ws.removeWorktree(a), ws.removeWorktree(b)]);
    expect(existsSync(a) || existsSync(b)).toBe(false);
    const list = await runGit(["worktree", "list", "--porcelain"], { cwd: ws.mirrorPath(repo) });
    expect(list.stdout).not.toContain("sub-a");
    expect(list.stdout).not.toContain("sub-b");
  });

  it("re-adds a worktree label left behind by a crashed attempt", async () => {
    const ws = workspace(join(tmp, "work-crash"));
    const mirror = await ws.syncMirror(repo);
    const first = await ws.addWorktree(repo, seedSha, "retry");
    await writeFile(join(first, "half-done.txt"), "junk\n");

    // Registered worktree still on disk: replaced with a clean checkout.
    const second = await ws.addWorktree(repo, seedSha, "retry");
    expect(second).toBe(first);
    expect(existsSync(join(second, "half-done.txt"))).toBe(false);

    // Directory on disk whose registration is gone (crash mid-way): also replaced.
    await rm(join(mirror, "worktrees"), { recursive: true, force: true });
    await writeFile(join(second, "stale.txt"), "x\n");
    const third = await ws.addWorktree(repo, seedSha, "retry");
    expect(existsSync(join(third, "stale.txt"))).toBe(false);
    expect(await readFile(join(third, "README.md"), "utf8")).toBe("# widgets\n");
    expect((await runGit(["rev-parse", "HEAD"], { cwd: third })).stdout.trim()).toBe(seedSha);
  });

  it("rejects names that would escape the work dir", async () => {
    const ws = workspace(join(tmp, "work-names"));
    await expect(ws.resolveRef(repo, "main")).rejects.toThrow(/syncMirror first/);
    await ws.syncMirror(repo);
    expect(() => ws.mirrorPath({ owner: "..", name: "x" })).toThrow();
    await expect(ws.addWorktree({ owner: "acme", name: "widgets" }, "main", "x")).rejects.toThrow(/sha/);
    await expect(ws.removeWorktree("/etc")).rejects.toThrow(/not a worktree/);
    await expect(ws.push(repo, seedSha, "bad..name")).rejects.toBeInstanceOf(GitError);
  });
});

describe("helpers", () => {
  it("makes labels safe directory names", () => {
    expect(safeLabel("run 7/generate")).toBe("run-7-generate");
    expect(safeLabel("../../etc")).toBe("etc");
    expect(safeLabel("..")).toBe("worktree");
    expect(safeLabel("a".repeat(200))).toHaveLength(80);
  });

  it("builds credential-free remote URLs, GHES included", () => {
    expect(gitRemoteUrl({ owner: "o", name: "r" }, {})).toBe("https://github.com/o/r.git");
    expect(gitRemoteUrl({ owner: "o", name: "r" }, { GHE_HOST: "ghe.corp", GHE_PROTOCOL: "http" })).toBe("http://ghe.corp/o/r.git");
  });

  it("keeps the token out of the credential args", () => {
    const { args, env } = credentialArgs(TOKEN);
    expect(args.join(" ")).not.toContain(TOKEN);
    expect(args.slice(0, 2)).toEqual(["-c", "credential.helper="]);
    expect(Object.values(env)).toEqual([TOKEN]);
    expect(() => credentialArgs("a\nprotocol=evil")).toThrow();
  });

  it("runs git without the caller's GIT_* variables", async () => {
    process.env.GIT_DIR = "/nonexistent";
    try {
      const { stdout } = await runGit(["rev-parse", "--is-inside-work-tree"], { cwd: join(originRoot, "acme") }).catch((e: GitError) => ({
        stdout: e.stderr,
      }));
      expect(stdout).not.toContain("/nonexistent");
    } finally {
      delete process.env.GIT_DIR;
    }
  });
});

import { readFile, rm } from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { RunSchema } from "../../src/domain/index.js";
import { LocalGitHubSchema } from "../../src/local/github-model.js";
import { findGitHubRemote, parseGitHubRemote, publishPullRequest } from "../../src/local/publish.js";
import { publishToGitHub } from "../../src/local/publish-run.js";
import { runGit } from "../../src/workspace/git.js";
import { startGitServer, type GitServer } from "../kit/git-server.js";
import type { LocalRepo } from "../kit/local-repo.js";
import { startModelServer, type ModelServer } from "../kit/model-server.js";
import { configYaml, goodFarewell, projectFiles, script } from "../e2e/scenario.js";
import { cliEnv, localProject, runCli } from "./kit.js";

const token = "ghp_localkitTokenThatNeverLeaks0000000000";
const branch = "shopfloor/1-add-farewell-name";
const full = "/repos/Codertocat/Hello-World";

let models: ModelServer | undefined;
let repo: LocalRepo | undefined;
let git: GitServer | undefined;
let originRoot: string | undefined;
afterEach(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  await models?.close();
  await git?.close();
  await repo?.remove();
  if (originRoot) await rm(originRoot, { recursive: true, force: true });
  models = repo = git = originRoot = undefined;
});

/** GitHub Enterprise on loopback: git over smart HTTP for real, the REST API with nock on the same host. */
async function gitHubFor(local: LocalRepo): Promise<{ env: NodeJS.ProcessEnv; api: nock.Scope; origin: string }> {
  originRoot = await mkdtemp(join(tmpdir(), "shopfloor-gh-"));
  const origin = join(originRoot, "Codertocat", "Hello-World.git");
  await runGit(["clone", "--quiet", "--bare", "--single-branch", "--branch", "main", local.dir, origin], { cwd: originRoot });
  await runGit(["config", "http.receivepack", "true"], { cwd: origin });
  git = await startGitServer({ root: originRoot, token });
  await local.git(["remote", "add", "origin", `http://127.0.0.1:${git.port}/Codertocat/Hello-World.git`]);
  nock.disableNetConnect();
  return { env: { GHE_HOST: `127.0.0.1:${git.port}`, GHE_PROTOCOL: "http" }, api: nock(`http://127.0.0.1:${git.port}/api/v3`), origin };
}

describe("shopfloor run --pr", () => {
  it("pushes the branch and opens the same draft PR with the gate on GitHub", async () => {
    models = await startModelServer(script(goodFarewell));
    repo = await localProject(projectFiles, configYaml);
    const cli = runCli(["run", "--repo", repo.dir, "Add farewell(name)"], cliEnv(models));
    expect((await cli.exited).code, cli.output()).toBe(0);
    const name = repo.dir.split("/").at(-1)!;
    const state = join(repo.dir, ".git", "shopfloor");
    const run = RunSchema.parse(JSON.parse(await readFile(join(state, "state", "runs", "local", name, "1", "run.json"), "utf8")));
    const held = LocalGitHubSchema.parse(JSON.parse(await readFile(join(state, "github.json"), "utf8")));
    const head = (await repo.git(["rev-parse", branch])).trim();

    const { env, api, origin } = await gitHubFor(repo);
    const at = await findGitHubRemote(repo.dir, env);
    expect(at).toEqual({ owner: "Codertocat", repo: "Hello-World" });
    let pullBody: any;
    let checkBody: any;
    api
      .get(`${full}/pulls`)
      .query({ head: `Codertocat:${branch}`, state: "all", per_page: "10" })
      .reply(200, [])
      .post(`${full}/pulls`, (b) => (pullBody = b))
      .reply(201, { number: 17, html_url: "https://github.example/Codertocat/Hello-World/pull/17" })
      .get(`${full}/commits/${head}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post(`${full}/check-runs`, (b) => (checkBody = b))
      .reply(201, { id: 99 });

    const published = await publishToGitHub(run, held, { dir: repo.dir, at: at as { owner: string; repo: string }, base: "main", token, branchSha: head }, env);
    expect(published).toEqual({ ok: true, line: "Pull request: https://github.example/Codertocat/Hello-World/pull/17 (draft, gate `success` as a check run)" });
    expect(nock.pendingMocks()).toEqual([]);

    // The same PR the run opened on the stand-in, as a draft, without closing an unrelated issue #1 there.
    const local = held.pulls[0]!;
    expect(pullBody).toMatchObject({ head: branch, base: "main", title: "Add farewell(name)", draft: true });
    expect(pullBody.body).toBe(local.body.replace(/<!-- shopfloor:[^>]*-->\n/, "").replace("Closes #1\n", ""));
    expect(pullBody.body).toContain("## Validation contract");
    // The gate as it concluded locally, on the same commit.
    expect(checkBody).toMatchObject({ name: "Shopfloor gate", head_sha: head, external_id: run.id, status: "completed", conclusion: "success" });
    expect(checkBody.output.summary).toContain("| `npm test` (test) | ✅ pass |");

    // The branch arrived on GitHub, authenticated by the credential helper, never in a URL.
    expect((await runGit(["rev-parse", `refs/heads/${branch}`], { cwd: origin })).stdout.trim()).toBe(head);
    expect(git!.requests.some((r) => r.authorized && r.path.endsWith("/git-receive-pack"))).toBe(true);
    expect(git!.requests.every((r) => !r.urlHadCredentials)).toBe(true);
    expect(await repo.git(["config", "--list"])).not.toContain(token);
  });

  it("falls back to a commit status when the token may not write check runs, and never forces over others' commits", async () => {
    repo = await localProject(projectFiles);
    await repo.git(["switch", "--quiet", "-c", branch]);
    const head = await repo.commit({ "src/farewell.js": goodFarewell }, "farewell");
    await repo.git(["switch", "--quiet", "main"]);
    const { env, api, origin } = await gitHubFor(repo);
    let status: any;
    api
      .get(`${full}/pulls`)
      .query(true)
      .reply(200, [{ number: 5, html_url: "https://github.example/pull/5", head: { ref: branch } }])
      .get(`${full}/commits/${head}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post(`${full}/check-runs`)
      .reply(403, { message: "Resource not accessible by personal access token" })
      .post(`${full}/statuses/${head}`, (b) => (status = b))
      .reply(201, { id: 1 });
    const pr = { branch, base: "main", title: "Add farewell(name)", body: "body", gate: { headSha: head, runId: "local/x#1", conclusion: "action_required" as const, title: "Escalated: blocked", summary: "table" } };
    const at = { owner: "Codertocat", repo: "Hello-World" };
    // The PR already exists (found by its head): it is reused, and the gate goes on as a status that does not pass.
    expect(await publishPullRequest(repo.dir, at, token, pr, env)).toEqual({ url: "https://github.example/pull/5", gate: "commit status" });
    expect(status).toEqual({ state: "failure", context: "Shopfloor gate", description: "Escalated: blocked" });
    expect(nock.pendingMocks()).toEqual([]);

    // Someone pushed to the branch on GitHub: a second publish from an older local tip is refused, not forced.
    const other = await mkdtemp(join(tmpdir(), "shopfloor-other-"));
    await runGit(["clone", "--quiet", "--branch", branch, origin, other], { cwd: tmpdir() });
    await runGit(["commit", "--quiet", "--allow-empty", "-m", "a person's commit"], { cwd: other, env: { GIT_AUTHOR_NAME: "P", GIT_AUTHOR_EMAIL: "p@example.com", GIT_COMMITTER_NAME: "P", GIT_COMMITTER_EMAIL: "p@example.com" } });
    await runGit(["push", "--quiet", "origin", branch], { cwd: other });
    await rm(other, { recursive: true, force: true });
    await expect(publishPullRequest(repo.dir, at, token, pr, env)).rejects.toThrow(`${branch} on GitHub has commits the local branch does not: not overwritten`);
  });

  it("knows a GitHub remote in its usual spellings, and only on the GitHub host", () => {
    const at = { owner: "octo-org", repo: "my.service" };
    expect(parseGitHubRemote("https://github.com/octo-org/my.service.git", "github.com")).toEqual(at);
    expect(parseGitHubRemote("https://user@github.com/octo-org/my.service", "github.com")).toEqual(at);
    expect(parseGitHubRemote("git@github.com:octo-org/my.service.git", "github.com")).toEqual(at);
    expect(parseGitHubRemote("ssh://git@github.com/octo-org/my.service.git", "github.com")).toEqual(at);
    expect(parseGitHubRemote("https://gitlab.com/octo-org/my.service.git", "github.com")).toBeUndefined();
    expect(parseGitHubRemote("https://github.com.evil.example/octo-org/my.service.git", "github.com")).toBeUndefined();
    expect(parseGitHubRemote("https://ghe.example.com/octo-org/my.service.git", "ghe.example.com")).toEqual(at);
  });
});

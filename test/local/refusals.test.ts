import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startModelServer, type ModelServer } from "../kit/model-server.js";
import type { LocalRepo } from "../kit/local-repo.js";
import { configYaml, projectFiles } from "../e2e/scenario.js";
import { cliEnv, localProject, reports, runBranches, runCli, scratchDir } from "./kit.js";

let models: ModelServer;
const cleanup: (() => Promise<void>)[] = [];
beforeAll(async () => {
  // No turn is scripted: a refused run must never reach a model.
  models = await startModelServer({});
});
afterAll(async () => {
  await models.close();
  for (const c of cleanup) await c();
});

async function project(files = projectFiles, config = configYaml): Promise<LocalRepo> {
  const repo = await localProject(files, config);
  cleanup.push(() => repo.remove());
  return repo;
}

async function refused(args: string[], env = cliEnv(models)): Promise<string> {
  const cli = runCli(["run", ...args], env);
  const { code } = await cli.exited;
  expect(code, cli.output()).toBe(2);
  return cli.output();
}

describe("shopfloor run refuses bad input with exit code 2 and says why", () => {
  it("names each problem, starts nothing, and leaves the repository as it was", async () => {
    const scratch = await scratchDir();
    cleanup.push(scratch.remove);
    const [clean, dirty, badConfig] = await Promise.all([project(), project(), project(projectFiles, "review:\n  reviewers: [anthropic/claude-opus-4-1]\n")]);
    await writeFile(join(dirty.dir, "src/greet.js"), "export const broken = true;\n");
    const { ANTHROPIC_API_KEY: _key, ...withoutAnthropic } = cliEnv(models);

    const [notRepo, noTask, blank, isDirty, noBase, noKey, invalid, nothingToResume, both, prNoToken, prNoRemote] = await Promise.all([
      refused(["--repo", scratch.dir, "Add divide(a, b)"]),
      refused(["--repo", clean.dir]),
      refused(["--repo", clean.dir, "   "]),
      refused(["--repo", dirty.dir, "Add divide(a, b)"]),
      refused(["--repo", clean.dir, "--base", "develop", "Add divide(a, b)"]),
      refused(["--repo", clean.dir, "Add divide(a, b)"], withoutAnthropic),
      refused(["--repo", badConfig.dir, "Add divide(a, b)"]),
      refused(["--repo", clean.dir, "--resume"]),
      refused(["--repo", clean.dir, "--issue-file", "issue.md", "Add divide(a, b)"]),
      refused(["--repo", clean.dir, "--pr", "Add divide(a, b)"]),
      refused(["--repo", clean.dir, "--pr", "Add divide(a, b)"], { ...cliEnv(models), GITHUB_TOKEN: "ghp_kitTokenNeverShown000000000000000000" }),
    ]);
    expect(notRepo).toContain(`${scratch.dir} is not a git repository`);
    expect(noTask).toContain('no task: give it as text ("Add divide(a, b) …") or --issue-file <file>');
    expect(noTask).toContain("usage: shopfloor run");
    expect(blank).toContain("no task");
    expect(isDirty).toContain("the work tree has uncommitted changes (src/greet.js): commit or stash them first");
    expect(noBase).toContain('there is no branch "develop" to start from (branches: main)');
    expect(noKey).toContain('model route "anthropic/claude-haiku-4-5" needs ANTHROPIC_API_KEY to be set');
    expect(invalid).toContain(".github/shopfloor.yml on main is invalid");
    expect(invalid).toContain("`review.reviewers`: at least two reviewers");
    expect(nothingToResume).toContain(`nothing to resume: ${clean.dir} has no unfinished run`);
    expect(both).toContain("give the task as text or as --issue-file, not both");
    expect(prNoToken).toContain("--pr needs GITHUB_TOKEN");
    expect(prNoRemote).toContain(`--pr needs a remote on github.com (git remote add origin https://github.com/<owner>/<repo>.git); ${clean.dir} has none`);
    expect(prNoRemote).not.toContain("ghp_kitTokenNeverShown");

    expect(models.requests).toEqual([]);
    for (const repo of [clean, badConfig]) {
      expect(await runBranches(repo)).toEqual([]);
      expect(await reports(repo)).toEqual([]);
      expect(await repo.git(["status", "--porcelain"])).toBe("");
    }
    // A task refused for a missing key used up no number: the next run is still #1.
    const next = runCli(["run", "--repo", clean.dir, "Add divide(a, b)"], { ...withoutAnthropic, ANTHROPIC_API_KEY: "" });
    await next.exited;
    expect(next.output()).toContain("Run #1: Add divide(a, b)");
  });
});

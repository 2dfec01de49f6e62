import { describe, expect, it } from "vitest";
import { startModelServer } from "../kit/model-server.js";
import { configYaml, goodFarewell, projectFiles, script } from "../e2e/scenario.js";
import { cliEnv, eachTest, farewellBranch, farewellTask, localProject, reports, runBranches, runCli, waitFor } from "../local/kit.js";

/**
 * Interruption trials of `shopfloor run` that take three processes each: here with the crash and
 * chaos trials (`npm run test:slow`), while test/local/run.test.ts keeps one Ctrl-C and resume.
 */
const current = eachTest();

describe("shopfloor run stopped more than once", () => {
  it("picks up after Ctrl-C during the same build twice: a person's stop is not a failure of the work", async () => {
    const turns = script(goodFarewell);
    // The first two generator requests never answer: each process is stopped while it waits.
    current.models = await startModelServer({ ...turns, "gpt-5-mini": [{ hang: true }, { hang: true }, ...turns["gpt-5-mini"]!] });
    current.repo = await localProject(projectFiles, configYaml);
    const generatorAsked = () => current.models!.requests.filter((r) => r.body.model === "gpt-5-mini").length;
    const first = runCli(["run", "--repo", current.repo.dir, farewellTask], cliEnv(current.models));
    await waitFor(() => generatorAsked() === 1, "the build's first model request");
    first.child.kill("SIGINT");
    expect((await first.exited).code, first.output()).toBe(130);

    const second = runCli(["run", "--repo", current.repo.dir, "--resume"], cliEnv(current.models));
    await waitFor(() => generatorAsked() === 2, "the resumed build's model request");
    second.child.kill("SIGINT");
    expect((await second.exited).code, second.output()).toBe(130);

    const third = runCli(["run", "--repo", current.repo.dir, "--resume"], cliEnv(current.models));
    const { code } = await third.exited;
    expect(code, third.output()).toBe(0);
    expect(third.output()).not.toContain("Escalated");
    expect(current.models.remaining()).toMatchObject({ "gpt-5-mini": 0 });
    expect(await runBranches(current.repo)).toEqual([farewellBranch]);
    const [report] = await reports(current.repo);
    expect(report!.text).toContain("✅ gate `success`");
  });
});

import { describe, expect, it } from "vitest";
import { startModelServer } from "../kit/model-server.js";
import { badFarewell, configYaml, goodFarewell, projectFiles, script } from "../e2e/scenario.js";
import { blockedTurn, buildTurns, planTurn } from "../e2e/people-kit.js";
import { cliEnv, eachTest, farewellBranch, farewellTask, localProject, reports, runBranches, runCli, waitFor } from "./kit.js";

const current = eachTest();

describe("shopfloor run on a local repository", () => {
  it("builds a good change: exit 0, the branch in the repo, a report with the gate table, a clean work tree", async () => {
    current.models = await startModelServer(script(goodFarewell));
    current.repo = await localProject(projectFiles, configYaml);
    const cli = runCli(["run", "--repo", current.repo.dir, farewellTask], cliEnv(current.models));
    const { code } = await cli.exited;
    const out = cli.output();
    expect(code, out).toBe(0);

    expect(await runBranches(current.repo)).toEqual([farewellBranch]);
    expect(await current.repo.git(["show", `${farewellBranch}:src/farewell.js`])).toBe(goodFarewell);
    expect((await current.repo.git(["rev-parse", `${farewellBranch}~1`])).trim()).toBe((await current.repo.git(["rev-parse", "main"])).trim());
    // The work tree is untouched: state lives under .git/shopfloor.
    expect(await current.repo.git(["status", "--porcelain"])).toBe("");

    const written = await reports(current.repo);
    expect(written.map((r) => r.name)).toEqual(["1-add-farewell-name.md"]);
    const report = written[0]!.text;
    expect(out).toContain(`Report: ${current.repo.dir}/.git/shopfloor/reports/1-add-farewell-name.md`);
    expect(report).toContain("✅ gate `success`");
    expect(report).toContain("| `npm test` (test) | ✅ pass | exit 0");
    expect(report).toContain("| Reviewer quorum approves, no blocking finding | ✅ pass |");
    expect(report).toContain("| `impl` Implement farewell(name) | generate | src/farewell.js | ok |");
    // Plain lines (stdout is not a terminal): the plan, the subtask with its progress, the reviews, the gate.
    expect(out).toContain("✔ Plan: Add src/farewell.js exporting farewell(name)");
    expect(out).toMatch(/… impl \(generate\) Implement farewell\(name\) — turn \d+, \d+ tool calls?, \d+ files? changed/);
    expect(out).toMatch(/✔ impl \(generate\) Implement farewell\(name\) — ok, confidence 0\.90, 1 file changed, \$0\.\d+/);
    expect(out).toContain("✔ anthropic/claude-opus-4-1 — approves");
    expect(out).toContain("Gate: success");
    // The keys never reach the terminal or the report.
    expect(out + report).not.toContain("never-leaks");
  });
});

describe("shopfloor run when the change is broken", () => {
  it("exits non-zero and the report names the failing command with its output", async () => {
    current.models = await startModelServer(script(badFarewell));
    // No fix attempt: the failing test goes straight to the gate.
    current.repo = await localProject(projectFiles, configYaml.replace("  test: npm test\n", "  test: npm test\n  fixAttempts: 0\n"));
    const cli = runCli(["run", "--repo", current.repo.dir, farewellTask], cliEnv(current.models));
    const { code } = await cli.exited;
    const out = cli.output();
    expect(code, out).toBe(1);
    expect(out).toContain("Failing: `npm test` (test) exited 1");
    expect(out).toContain("Gate: failure");

    expect(await runBranches(current.repo)).toEqual([farewellBranch]);
    const [report] = await reports(current.repo);
    expect(report!.text).toContain("❌ gate `failure`");
    expect(report!.text).toContain("## Failing commands");
    expect(report!.text).toContain("`npm test` (test) exited 1:");
    expect(report!.text).toContain("Goodbye, Ann!");
    expect(report!.text).toContain("| `npm test` (test) | ❌ fail | exit 1");
  });
});

describe("shopfloor run with a fix round", () => {
  it("shows the failing command, the fix subtask as its own round, and passes once it is fixed", async () => {
    current.models = await startModelServer({ ...script(goodFarewell), "claude-haiku-4-5": [planTurn], "gpt-5-mini": [...buildTurns(badFarewell), ...buildTurns(goodFarewell, "Fixed the greeting")] });
    current.repo = await localProject(projectFiles, configYaml.replace("  test: npm test\n", "  test: npm test\n  fixAttempts: 1\n"));
    const cli = runCli(["run", "--repo", current.repo.dir, farewellTask], cliEnv(current.models));
    const { code } = await cli.exited;
    const out = cli.output();
    expect(code, out).toBe(0);
    expect(out).toContain("  ✖ npm test (test) — exit 1");
    expect(out).toContain("▸ Fix round 1");
    expect(out).toMatch(/✔ scrutiny-fix-1 \(generate\) Make test pass — ok, confidence 0\.90/);
    expect(out).toContain("  ✔ npm test (test) — exit 0");
    expect(await current.repo.git(["show", `${farewellBranch}:src/farewell.js`])).toBe(goodFarewell);
  });
});

describe("shopfloor run interrupted and resumed", () => {
  it("stops on Ctrl-C mid-build, keeps the notes, and --resume finishes with one branch and one report", async () => {
    const turns = script(goodFarewell);
    // The first generator request never answers: the build is under way when Ctrl-C comes.
    current.models = await startModelServer({ ...turns, "gpt-5-mini": [{ hang: true }, ...turns["gpt-5-mini"]!] });
    current.repo = await localProject(projectFiles, configYaml);
    const first = runCli(["run", "--repo", current.repo.dir, farewellTask], cliEnv(current.models));
    await waitFor(() => current.models!.requests.some((r) => r.body.model === "gpt-5-mini") && first.output().includes("▸ Build"), "the build's first model request");
    // One run at a time works in a repository: a second process is refused, the first goes on.
    const another = runCli(["run", "--repo", current.repo.dir, "Add divide(a, b)"], cliEnv(current.models));
    expect((await another.exited).code).toBe(2);
    expect(another.output()).toContain(`another shopfloor run is working in ${current.repo.dir}; one at a time per repository`);
    first.child.kill("SIGINT");
    const stopped = await first.exited;
    expect(stopped.code, first.output()).toBe(130);
    expect(first.output()).toContain("■ Build (stopped here)");
    expect(first.output()).toContain("Stopped run #1; its notes are kept. `shopfloor run --resume`");
    expect(await reports(current.repo)).toEqual([]);

    const second = runCli(["run", "--repo", current.repo.dir, "--resume"], cliEnv(current.models));
    const { code } = await second.exited;
    const out = second.output();
    expect(code, out).toBe(0);
    expect(out).toContain("Resuming run #1: Add farewell(name) (building, branch shopfloor/1-add-farewell-name)");
    // Nothing was planned twice: the resumed process only built, checked and reviewed.
    expect(out).not.toContain("▸ Plan");
    expect(out).toContain("✔ impl (generate) Implement farewell(name) — ok");
    expect(current.models.remaining()).toMatchObject({ "claude-haiku-4-5": 0, "gpt-5-mini": 0 });

    expect(await runBranches(current.repo)).toEqual([farewellBranch]);
    expect(await current.repo.git(["rev-list", "--count", `main..${farewellBranch}`])).toBe("1\n");
    const written = await reports(current.repo);
    expect(written).toHaveLength(1);
    expect(written[0]!.text).toContain("✅ gate `success`");
    expect(await current.repo.git(["status", "--porcelain"])).toBe("");
  });
});

describe("shopfloor run when a person must decide", () => {
  it("escalates a blocked worker: exit 1, and the report holds the handoff with the question", async () => {
    current.models = await startModelServer({ ...script(goodFarewell), "gpt-5-mini": [blockedTurn] });
    current.repo = await localProject(projectFiles, configYaml);
    const cli = runCli(["run", "--repo", current.repo.dir, farewellTask], cliEnv(current.models));
    const { code } = await cli.exited;
    expect(code, cli.output()).toBe(1);
    expect(cli.output()).toContain("✖ Escalated: blocked");
    const [report] = await reports(current.repo);
    expect(report!.text).toContain("⚠️ escalated (gate `action_required`): blocked");
    expect(report!.text).toContain("## Handoff");
    expect(report!.text).toContain("The brief does not say which greeting style to use");
    expect(report!.text).toContain("Branch | none: no change was made");
  });

  it("stops at a plan that needs approval, and --resume --approve builds it", async () => {
    current.models = await startModelServer(script(goodFarewell));
    current.repo = await localProject(projectFiles, `${configYaml}approval:\n  always: true\n`);
    const first = runCli(["run", "--repo", current.repo.dir, farewellTask], cliEnv(current.models));
    expect((await first.exited).code, first.output()).toBe(1);
    expect(first.output()).toContain("waits for approval (high risk, or approval.always). Read it above, then: shopfloor run --resume --approve");
    expect(first.output()).toContain("impl (generate): Implement farewell(name) — src/farewell.js");
    expect(await runBranches(current.repo)).toEqual([]);

    const second = runCli(["run", "--repo", current.repo.dir, "--resume", "--approve"], cliEnv(current.models));
    expect((await second.exited).code, second.output()).toBe(0);
    const [report] = await reports(current.repo);
    expect(report!.text).toMatch(/\| Plan accepted \(and approved when required\) \| ✅ pass \| approved by @[\w-]+ \|/);
    expect(await runBranches(current.repo)).toEqual([farewellBranch]);
  });
});

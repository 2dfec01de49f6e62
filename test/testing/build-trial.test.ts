/**
 * `runBuilder` is how a team tries its generator and tester cards on one subtask of a plan,
 * without a GitHub App: the runner's own build job in a worktree of a snapshot, with models
 * from the scripted server and every command refused.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { finish, runBuilder, startModelServer, systemPromptOf, taskOf, toolCall, toolNamesOf, type BuildTrial } from "../../src/testing/index.js";
import { teamCards as editedCards, useTrialDir, writeFiles } from "./fixtures.js";

const t = useTrialDir("build-trial-");

const plan: BuildTrial["plan"] = {
  summary: "Add divide(a, b) to src/calc.js, throwing RangeError on zero.",
  subtasks: [
    { id: "tests", role: "test", title: "Tests for divide", brief: "Cover A1 in test/calc.test.js.", files: ["test/calc.test.js"], assertions: ["A1"] },
    { id: "impl", role: "generate", title: "Implement divide", brief: "Add divide to src/calc.js.", files: ["src/calc.js"], dependsOn: ["tests"], assertions: ["A1"] },
  ],
  contract: { assertions: [{ id: "A1", text: "divide(1, 0) throws RangeError", check: { kind: "command", command: "npm test" } }] },
};
const base = { "src/calc.js": "export function add(a, b) {\n  return a + b;\n}\n", "AGENTS.md": "Errors are RangeError, never plain Error.\n" };
const divide = "export function add(a, b) {\n  return a + b;\n}\n\nexport function divide(a, b) {\n  if (b === 0) throw new RangeError('b is 0');\n  return a / b;\n}\n";
const handoff = { completed: ["divide"], remaining: [], commands: [], issues: [], followedProcedure: true };
const report = { status: "ok", confidence: 0.9, summary: "Added divide.", handoff };

describe("runBuilder", () => {
  it("runs the subtask with the team's card and the model shopfloor.yml names, and returns the change it made", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), { ...base, ".github/shopfloor.yml": "models:\n  generator: openai/gpt-team-builder\n" });
    const agentsDir = await editedCards(t.tmp, "generator.md", (shipped) => `${shipped.trimEnd()}\n\nTeam rule: keep functions under ten lines.\n`);
    t.server = await startModelServer({
      "gpt-team-builder": [toolCall("read_file", { path: "src/calc.js" }), toolCall("write_file", { path: "src/calc.js", content: divide }), finish(report)],
    });

    const outcome = await runBuilder({ repo, agentsDir, plan, subtask: "impl", env: t.server.env });

    expect(outcome.route).toBe("openai/gpt-team-builder");
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.result.status).toBe("ok");
    expect(outcome.result.artifact.filesChanged).toEqual(["src/calc.js"]);
    expect(outcome.diff).toContain("+export function divide(a, b) {");
    const asked = t.server.requests[0]!;
    expect(systemPromptOf(asked)).toContain("Team rule: keep functions under ten lines.");
    expect(systemPromptOf(asked)).toContain("Errors are RangeError, never plain Error.");
    expect(taskOf(asked)).toContain("Add divide to src/calc.js.");
    expect(toolNamesOf(asked)).toContain("write_file");
    expect(t.server.remaining()).toEqual({ "gpt-team-builder": 0 });
  });

  it("refuses every command the worker runs: a trial never runs the repository's code", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), base);
    t.server = await startModelServer({
      "claude-sonnet-5-5": [toolCall("run", { command: "npm test" }), toolCall("write_file", { path: "src/calc.js", content: divide }), finish(report)],
    });

    const outcome = await runBuilder({ repo, plan, subtask: "impl", env: t.server.env });

    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    // What the model was told after its command: refused, with the exit code a refusal has.
    const after = JSON.stringify(t.server.requests[1]!.body);
    expect(after).toContain("shopfloor/testing runs no commands");
    expect(after).toContain("126");
  });

  it("refuses a write to a file the subtask does not own, so nothing of it is committed", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), base);
    t.server = await startModelServer({
      "claude-sonnet-5-5": [toolCall("write_file", { path: "README.md", content: "divide\n" }), finish(report)],
    });

    const outcome = await runBuilder({ repo, plan, subtask: "impl", env: t.server.env });

    expect(t.server.requests.length, JSON.stringify(outcome)).toBe(2);
    // The write itself is refused with the reason, and the worker then has nothing to commit.
    expect(JSON.stringify(t.server.requests[1]!.body)).toContain("README.md");
    expect(outcome.ok && outcome.result.artifact.filesChanged).toEqual([]);
    expect(outcome.ok && outcome.diff).toBe("");
  });

  it("names the subtasks when asked for one the plan does not have", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), base);
    t.server = await startModelServer({});
    await expect(runBuilder({ repo, plan, subtask: "docs", env: t.server.env })).rejects.toThrow('the plan has no subtask "docs" (it has "tests", "impl")');
    expect(t.server.requests).toEqual([]);
  });
});

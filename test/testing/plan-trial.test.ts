/**
 * `runPlanner` is how a team tries its planner card and its `.github/shopfloor.yml` on a
 * directory without a GitHub App: the runner's own plan job, with models from the scripted server.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { finish, runPlanner, startModelServer, systemPromptOf, taskOf, toolCall, toolNamesOf } from "../../src/testing/index.js";
import { makeLocalRepo } from "../kit/local-repo.js";
import { teamCards as editedCards, useTrialDir, writeFiles } from "./fixtures.js";

const t = useTrialDir("plan-trial-");

/** The shipped cards, with the planner's rewritten as a team would: its own rule, fewer tools, its own model. */
const teamCards = () =>
  editedCards(t.tmp, "planner.md", (shipped) => {
    const body = shipped.slice(shipped.indexOf("\n---", 3) + 5);
    return `---\nrole: planner\ntools: [read_file, finish]\nmodel: anthropic/claude-card-default\nmax_turns: 10\ntimeout: 300\noutput: plan\n---\n${body}\nTeam rule: every plan starts with a test subtask.\n`;
  });

const plan = {
  summary: "Add divide(a, b) to src/calc.js, throwing RangeError on zero.",
  subtasks: [
    { id: "tests", role: "test", title: "Tests for divide", brief: "Cover A1.", files: ["test/calc.test.js"], assertions: ["A1"] },
    { id: "impl", role: "generate", title: "Implement divide", brief: "Add divide.", files: ["src/calc.js"], dependsOn: ["tests"], assertions: ["A1"] },
  ],
  contract: { assertions: [{ id: "A1", text: "divide(1, 0) throws RangeError", check: { kind: "command", command: "npm test" } }] },
};
const issue = { number: 12, title: "Add divide(a, b)", body: "It must throw RangeError when b is 0." };
const repoFiles = { "src/calc.js": "export function add(a, b) {\n  return a + b;\n}\n", "AGENTS.md": "Run the tests with `npm test`.\n" };

describe("runPlanner", () => {
  it("asks the model shopfloor.yml names, with the team's card and AGENTS.md as the system prompt, and returns the plan", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), { ...repoFiles, ".github/shopfloor.yml": "models:\n  planner: anthropic/claude-team-planner\n" });
    t.server = await startModelServer({ "claude-team-planner": [toolCall("read_file", { path: "src/calc.js" }), finish(plan)] });

    const outcome = await runPlanner({ repo, agentsDir: await teamCards(), issue, env: t.server.env });

    expect(outcome.route).toBe("anthropic/claude-team-planner");
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && outcome.plan.subtasks.map((s) => s.id)).toEqual(["tests", "impl"]);
    expect(outcome.ok && outcome.planProblems).toEqual([]);
    const [first, second] = t.server.requests;
    expect(systemPromptOf(first!)).toContain("Team rule: every plan starts with a test subtask.");
    expect(systemPromptOf(first!)).toContain("Run the tests with `npm test`.");
    expect(taskOf(first!)).toContain("It must throw RangeError when b is 0.");
    expect(toolNamesOf(first!)).toEqual(["read_file", "finish"]);
    // The tool ran on the directory: the file's text went back to the model.
    expect(JSON.stringify(second!.body)).toContain("export function add(a, b)");
  });

  it("without shopfloor.yml or cards of its own, asks the shipped planner card's model with its prompt", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), repoFiles);
    t.server = await startModelServer({ "claude-sonnet-5-5": [finish(plan)] });

    const outcome = await runPlanner({ repo, issue, env: t.server.env });

    expect(outcome.route).toBe("anthropic/claude-sonnet-5-5");
    expect(outcome.ok).toBe(true);
    expect(systemPromptOf(t.server.requests[0]!)).toContain("You are the planner of Shopfloor");
  });

  it("stops the planner at the turn cap shopfloor.yml sets", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), { ...repoFiles, ".github/shopfloor.yml": "agents:\n  planner:\n    maxTurns: 2\n" });
    const look = toolCall("read_file", { path: "src/calc.js" });
    t.server = await startModelServer({ "claude-card-default": [look, look, look, finish(plan)] });

    const outcome = await runPlanner({ repo, agentsDir: await teamCards(), issue, env: t.server.env });

    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.failure.detail).toContain("turn cap 2");
    expect(t.server.requests).toHaveLength(2);
  });

  it("refuses an invalid shopfloor.yml, naming the field, before any model is asked", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), { ...repoFiles, ".github/shopfloor.yml": "budget:\n  usd: five\n" });
    t.server = await startModelServer({ "claude-sonnet-5-5": [finish(plan)] });

    await expect(runPlanner({ repo, issue, env: t.server.env })).rejects.toThrow(/\.github\/shopfloor\.yml: `budget\.usd`/);
    expect(t.server.requests).toEqual([]);
  });

  it("names what the plan checker would send back to the planner", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), repoFiles);
    const uncovered = { ...plan, contract: { assertions: [...plan.contract.assertions, { id: "A2", text: "divide(4, 2) is 2", check: { kind: "command", command: "npm test" } }] } };
    t.server = await startModelServer({ "claude-sonnet-5-5": [finish(uncovered)] });

    const outcome = await runPlanner({ repo, issue, env: t.server.env });

    expect(outcome.ok && outcome.planProblems).toEqual(['assertion "A2" is not covered by any subtask']);
  });

  it("shows the planner the working tree as it is, without what .gitignore hides", async () => {
    const local = await makeLocalRepo();
    try {
      await local.commit({ ...repoFiles, ".gitignore": "secrets.env\n" });
      await writeFiles(local.dir, { "src/draft.js": "export const draft = 'uncommitted';\n", "secrets.env": "TOKEN=hidden-value\n" });
      t.server = await startModelServer({
        "claude-sonnet-5-5": [toolCall("read_file", { path: "src/draft.js" }), toolCall("read_file", { path: "secrets.env" }), finish(plan)],
      });

      const outcome = await runPlanner({ repo: local.dir, issue, env: t.server.env });

      expect(outcome.ok).toBe(true);
      expect(JSON.stringify(t.server.requests[1]!.body)).toContain("uncommitted");
      expect(JSON.stringify(t.server.requests[2]!.body)).not.toContain("hidden-value");
      // The team's own checkout is left as it was.
      expect(await local.git(["status", "--porcelain"])).toBe("?? src/draft.js\n");
    } finally {
      await local.remove();
    }
  });
});

describe("runPlanner's config warnings", () => {
  it("passes on what the app would log about shopfloor.yml: a deprecated planner model", async () => {
    const repo = await writeFiles(join(t.tmp, "repo"), { ...repoFiles, ".github/shopfloor.yml": "models:\n  planner: anthropic/claude-sonnet-4-5\n" });
    t.server = await startModelServer({ "claude-sonnet-4-5": [finish(plan)] });

    const outcome = await runPlanner({ repo, issue, env: t.server.env });

    expect(outcome.configWarnings).toEqual([expect.stringMatching(/^`models\.planner`: .*deprecated.*claude-sonnet-5-5/)]);
  });
});

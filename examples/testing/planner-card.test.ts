import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { finish, runPlanner, startModelServer, systemPromptOf, taskOf, toolCall, type ModelServer } from "../../src/testing/index.js";

// Your repository (here a small fixture) and your role cards (what SHOPFLOOR_AGENTS_DIR points at).
const repo = fileURLToPath(new URL("./repo", import.meta.url));
const agentsDir = fileURLToPath(new URL("./agents", import.meta.url));

let models: ModelServer | undefined;
afterEach(() => models?.close());

it("plans with our planner card, our AGENTS.md and the model our shopfloor.yml names", async () => {
  // .github/shopfloor.yml routes the planner to anthropic/claude-opus-5-5: these are its answers, in order.
  models = await startModelServer({
    "claude-opus-5-5": [
      toolCall("read_file", { path: "src/calc.js" }, { usage: { input: 2_000, output: 60 } }),
      finish({
        summary: "Add divide(a, b) to src/calc.js; it throws RangeError when b is 0.",
        subtasks: [
          { id: "tests", role: "test", title: "Tests for divide", brief: "Cover A1 and A2.", files: ["test/calc.test.js"], assertions: ["A1", "A2"] },
          { id: "divide", role: "generate", title: "Add divide", brief: "Implement divide.", files: ["src/calc.js"], dependsOn: ["tests"], assertions: ["A1", "A2"] },
        ],
        contract: {
          assertions: [
            { id: "A1", text: "divide(6, 3) returns 2", check: { kind: "command", command: "npm test" } },
            { id: "A2", text: "divide(1, 0) throws RangeError", check: { kind: "command", command: "npm test" } },
          ],
        },
      }),
    ],
  });

  const outcome = await runPlanner({
    repo,
    agentsDir,
    issue: { number: 7, title: "Add divide(a, b)", body: "Throw RangeError when b is 0." },
    // ANTHROPIC_BASE_URL and OPENAI_BASE_URL pointing at the scripted server, with placeholder keys.
    env: models.env,
  });

  // The plan our scripted planner gave passes Shopfloor's plan checks.
  expect(outcome.ok).toBe(true);
  expect(outcome.ok && outcome.planProblems).toEqual([]);
  expect(outcome.route).toBe("anthropic/claude-opus-5-5");

  // What the model was asked: our card, our AGENTS.md, and the issue as quoted data.
  const first = models.requests[0];
  expect(systemPromptOf(first)).toContain("Every plan starts with a `test` subtask");
  expect(systemPromptOf(first)).toContain("Run the tests with `npm test`.");
  expect(taskOf(first)).toContain("Throw RangeError when b is 0.");
  expect(models.remaining()).toEqual({ "claude-opus-5-5": 0 });
});

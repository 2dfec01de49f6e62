import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runGit } from "../../src/workspace/git.js";
import { owner, repoName, startApp, type AppHarness } from "../kit/app.js";
import type { ModelScript } from "../kit/model-server.js";
import { startPythonIndex, type PythonIndex } from "../kit/python-index.js";
import { labeledPayload, reviewerScript } from "./scenario.js";

/**
 * One repository outside Node, end to end: a Python project whose tests import a package from a
 * package index (a real PEP 503 index on loopback). No `commands` in its config: the virtualenv
 * install and `pytest` are detected; Debian's python3 and pytest do the work in the sandbox.
 */

const runId = `${owner}/${repoName}#1`;
const branch = "shopfloor/1-add-farewell-name";
const calc = "import kitmath\n\n\ndef double(x):\n    return kitmath.add(x, x)\n";

const plan = {
  summary: "Add calc.double(x) on top of kitmath",
  risk: "low",
  subtasks: [{ id: "impl", role: "generate", title: "Implement double(x)", brief: "Create calc.py with double(x) using kitmath.add.", files: ["calc.py"], dependsOn: [], assertions: ["A1"] }],
  contract: { assertions: [{ id: "A1", text: "double(2) == 4", check: { kind: "command", command: "python3 -m pytest -q" } }] },
};

function script(): ModelScript {
  return {
    ...reviewerScript(1),
    "claude-haiku-4-5": [{ toolCalls: [{ name: "finish", args: plan }], usage: { input: 1500, output: 200 } }],
    "gpt-5-mini": [
      { toolCalls: [{ name: "write_file", args: { path: "calc.py", content: calc } }], usage: { input: 900, output: 60 } },
      { toolCalls: [{ name: "run", args: { command: "python3 -m pytest -q" } }], usage: { input: 1000, output: 20 } },
      (req) => {
        const passed = JSON.stringify(req.body.messages.at(-1)).includes("1 passed");
        const handoff = { completed: ["created calc.py"], remaining: [], commands: [], issues: [], followedProcedure: true };
        return { toolCalls: [{ name: "finish", args: { status: passed ? "ok" : "blocked", confidence: 0.9, summary: passed ? "pytest passes" : "pytest fails", handoff } }], usage: { input: 1200, output: 60 } };
      },
    ],
  };
}

let app: AppHarness | undefined;
let index: PythonIndex | undefined;
let cacheDir: string | undefined;
afterEach(async () => {
  await app?.close();
  await index?.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  app = index = cacheDir = undefined;
});

describe("a Python repository", () => {
  it("goes from label to a gate that concludes success on proof, with its dependency from the index", async () => {
    index = await startPythonIndex({ wheels: [{ name: "kitmath", version: "1.0.0", modules: { "kitmath/__init__.py": "def add(a, b):\n    return a + b\n" } }] });
    cacheDir = await mkdtemp(join(tmpdir(), "python-cache-"));
    const files = {
      "requirements.txt": `--index-url ${index.url}\nkitmath==1.0.0\n`,
      "tests/test_calc.py": "import kitmath\nfrom calc import double\n\n\ndef test_double():\n    assert double(2) == kitmath.add(2, 2) == 4\n",
      "README.md": "# calc\n",
    };
    const configYaml = ["models:", "  planner: anthropic/claude-haiku-4-5", "  generator: openai/gpt-5-mini", "review:", "  reviewers: [anthropic/claude-opus-4-1, openai/gpt-4.1]", "ci:", "  graceMinutes: 0"].join("\n");
    app = await startApp({ script: script(), files, configYaml, env: { SHOPFLOOR_EGRESS_ALLOW: index.host, SHOPFLOOR_CACHE_DIR: cacheDir }, netConnect: [index.host] });
    app.github.permissions = { Codertocat: "write" };
    await app.deliver("issues", labeledPayload());
    const run = await app.waitForRun(runId, 180_000);

    expect(run.phase).toBe("gated");
    const gate = app.github.checkRuns.at(-1)!;
    expect(gate.conclusion).toBe("success");
    expect(gate.output.summary).toContain("| Setup: `python3 -m venv --system-site-packages /deps/venv && /deps/venv/bin/pip install --no-input -r requirements.txt` (install) | ✅ pass | restored from the dependency cache |");
    expect(gate.output.summary).toMatch(/\| `python3 -m pytest` \(test\) \| ✅ pass \| exit 0/);
    expect(gate.output.summary).toMatch(/\| `python3 -m pytest -q` \(contract A1\) \| ✅ pass \| exit 0/);
    // The generator's own pytest ran against the installed package; the wheel was fetched once.
    const generatorSaw = app.models.requests.filter((r) => r.body.model === "gpt-5-mini").map((r) => JSON.stringify(r.body.messages.at(-1)));
    expect(generatorSaw.some((m) => m.includes("1 passed"))).toBe(true);
    expect(index.fileRequests()).toBe(1);
    const { stdout } = await runGit(["ls-tree", "-r", "--name-only", branch], { cwd: join(app.originRoot, owner, `${repoName}.git`) });
    expect(stdout.split("\n").filter(Boolean).sort()).toEqual(["README.md", "calc.py", "requirements.txt", "tests/test_calc.py"]);
  }, 240_000);
});

import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runGit } from "../../src/workspace/git.js";
import { owner, repoName, startApp, type AppHarness } from "../kit/app.js";
import type { ModelScript } from "../kit/model-server.js";
import { labeledPayload, reviewerScript } from "./scenario.js";

/**
 * A Go module, end to end, with Debian's golang-go: no `commands` in its config, so `go mod
 * download` and `go test ./...` are detected and run in the sandbox (no toolchain download, no network).
 */

const runId = `${owner}/${repoName}#1`;
const branch = "shopfloor/1-add-farewell-name";
const calc = "package calc\n\n// Double returns twice x.\nfunc Double(x int) int {\n\treturn x + x\n}\n";

const plan = {
  summary: "Add calc.Double(x)",
  risk: "low",
  subtasks: [{ id: "impl", role: "generate", title: "Implement double(x)", brief: "Create calc.go with Double(x).", files: ["calc.go"], dependsOn: [], assertions: ["A1"] }],
  contract: { assertions: [{ id: "A1", text: "Double(2) == 4", check: { kind: "command", command: "go vet ./..." } }] },
};

function script(): ModelScript {
  return {
    ...reviewerScript(1),
    "claude-haiku-4-5": [{ toolCalls: [{ name: "finish", args: plan }], usage: { input: 1500, output: 200 } }],
    "gpt-5-mini": [
      { toolCalls: [{ name: "write_file", args: { path: "calc.go", content: calc } }], usage: { input: 900, output: 60 } },
      { toolCalls: [{ name: "run", args: { command: "go test ./..." } }], usage: { input: 1000, output: 20 } },
      (req) => {
        const passed = JSON.stringify(req.body.messages.at(-1)).includes("ok ");
        const handoff = { completed: ["created calc.go"], remaining: [], commands: [], issues: [], followedProcedure: true };
        return { toolCalls: [{ name: "finish", args: { status: passed ? "ok" : "blocked", confidence: 0.9, summary: passed ? "go test passes" : "go test fails", handoff } }], usage: { input: 1200, output: 60 } };
      },
    ],
  };
}

let app: AppHarness | undefined;
let cacheDir: string | undefined;
afterEach(async () => {
  await app?.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  app = cacheDir = undefined;
});

describe("a Go repository", () => {
  it("goes from label to a gate that concludes success on proof", async () => {
    cacheDir = await mkdtemp(join(tmpdir(), "go-cache-"));
    const files = {
      "go.mod": "module example.com/calc\n\ngo 1.19\n",
      "calc_test.go": 'package calc\n\nimport "testing"\n\nfunc TestDouble(t *testing.T) {\n\tif Double(2) != 4 {\n\t\tt.Fatal("Double(2) != 4")\n\t}\n}\n',
      "README.md": "# calc\n",
    };
    const configYaml = ["models:", "  planner: anthropic/claude-haiku-4-5", "  generator: openai/gpt-5-mini", "review:", "  reviewers: [anthropic/claude-opus-4-1, openai/gpt-4.1]", "ci:", "  graceMinutes: 0"].join("\n");
    app = await startApp({ script: script(), files, configYaml, env: { SHOPFLOOR_CACHE_DIR: cacheDir } });
    app.github.permissions = { Codertocat: "write" };
    await app.deliver("issues", labeledPayload());
    const run = await app.waitForRun(runId, 180_000);

    expect(run.phase).toBe("gated");
    const gate = app.github.checkRuns.at(-1)!;
    expect(gate.conclusion).toBe("success");
    expect(gate.output.summary).toContain("| Setup: `go mod download` (install) | ✅ pass | restored from the dependency cache |");
    expect(gate.output.summary).toMatch(/\| `go test \.\/\.\.\.` \(test\) \| ✅ pass \| exit 0/);
    expect(gate.output.summary).toMatch(/\| `go vet \.\/\.\.\.` \(contract A1\) \| ✅ pass \| exit 0/);
    const generatorSaw = app.models.requests.filter((r) => r.body.model === "gpt-5-mini").map((r) => JSON.stringify(r.body.messages.at(-1)));
    expect(generatorSaw.some((m) => m.includes("ok ") && m.includes("example.com/calc"))).toBe(true);
    const { stdout } = await runGit(["ls-tree", "-r", "--name-only", branch], { cwd: join(app.originRoot, owner, `${repoName}.git`) });
    expect(stdout.split("\n").filter(Boolean).sort()).toEqual(["README.md", "calc.go", "calc_test.go", "go.mod"]);
  }, 240_000);
});

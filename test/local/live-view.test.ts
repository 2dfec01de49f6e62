import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { startModelServer, type ModelServer } from "../kit/model-server.js";
import type { LocalRepo } from "../kit/local-repo.js";
import { configYaml, goodFarewell, projectFiles, script } from "../e2e/scenario.js";
import { cliEnv, localProject, reports } from "./kit.js";

const root = new URL("../..", import.meta.url).pathname;
let models: ModelServer | undefined;
let repo: LocalRepo | undefined;
afterEach(async () => {
  await models?.close();
  await repo?.remove();
  models = repo = undefined;
});

/** The command in a real pseudo-terminal (util-linux `script`), as a person at a terminal runs it. */
function inTerminal(command: string, env: Record<string, string>): Promise<{ code: number | null; screen: string }> {
  const child = spawn("script", ["-qec", `stty cols 140 rows 60; exec ${command}`, "/dev/null"], { cwd: root, env: { ...env, TERM: "xterm-256color" }, stdio: ["pipe", "pipe", "pipe"] });
  let raw = "";
  child.stdout.on("data", (b: Buffer) => (raw += b.toString("utf8")));
  child.stderr.on("data", (b: Buffer) => (raw += b.toString("utf8")));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, screen: raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "") })));
}

describe("shopfloor run in a terminal", () => {
  it("draws the live view: the plan, each subtask, the reviews and the gate's items", async () => {
    models = await startModelServer(script(goodFarewell));
    repo = await localProject(projectFiles, configYaml);
    const { code, screen } = await inTerminal(`node --import tsx src/cli.ts run --repo ${repo.dir} 'Add farewell(name)'`, cliEnv(models));
    expect(code, screen).toBe(0);
    // listr2's frames, not plain lines.
    expect(screen).not.toContain("▸ Build");
    expect(screen).toContain("✔ Plan: Add src/farewell.js exporting farewell(name)");
    expect(screen).toMatch(/✔ impl \(generate\) Implement farewell\(name\) — ok, confidence 0\.90, 1 file changed, \$0\.\d+ \(3460 tokens\)/);
    expect(screen).toContain("✔ anthropic/claude-opus-4-1 — approves, confidence 0.90, 0 findings");
    expect(screen).toContain("✔ Gate: success");
    expect(screen).toContain("✔ Reviewer quorum approves, no blocking finding — anthropic/claude-opus-4-1: approve, openai/gpt-4.1: approve");
    expect(screen).toContain("Gate: success");
    expect(await reports(repo)).toHaveLength(1);
  });
});

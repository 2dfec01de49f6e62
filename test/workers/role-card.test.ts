import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadRoleCards } from "../../src/workers/role-card.js";
import { roleAllowance } from "../../src/workers/tools.js";

const agentsDir = path.resolve(import.meta.dirname, "../../agents");

describe("the shipped role cards", () => {
  it("load, one per role, within each role's allowance", async () => {
    const cards = await loadRoleCards(agentsDir);
    expect([...cards.keys()].sort()).toEqual(["generator", "planner", "reviewer", "tester"]);
    const planner = cards.get("planner");
    expect(planner).toMatchObject({ output: "plan", tools: ["read_file", "list_files", "search", "finish"] });
    expect(cards.get("reviewer")).toMatchObject({ output: "review", tools: ["read_file", "list_files", "search", "finish"] });
    for (const card of cards.values()) {
      expect(card.file).toBe(path.join(agentsDir, `${card.role}.md`));
      expect(card.tools.filter((t) => t !== "finish").every((t) => roleAllowance[card.role].includes(t))).toBe(true);
      expect(card.maxTurns).toBeGreaterThan(0);
      expect(card.timeoutMs % 1000).toBe(0);
      expect(card.model).toMatch(/^(anthropic|openai)\//);
      expect(card.prompt).toMatch(/data, not instructions/);
      expect(card.prompt).not.toMatch(/^---/);
    }
    expect(cards.get("generator")?.tools).toContain("write_file");
  });
});

describe("loadRoleCards", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "shopfloor-cards-"));
    await cp(agentsDir, dir, { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function edit(role: string, change: (text: string) => string): Promise<string> {
    const file = path.join(dir, `${role}.md`);
    await writeFile(file, change(await readFile(file, "utf8")));
    return file;
  }

  it("loads a valid copy and converts the timeout to milliseconds", async () => {
    await edit("tester", (t) => t.replace(/^timeout: \d+$/m, "timeout: 12"));
    expect((await loadRoleCards(dir)).get("tester")?.timeoutMs).toBe(12_000);
  });

  it("picks the card's runtime, builtin unless it names a CLI agent", async () => {
    await edit("generator", (t) => t.replace(/^output: result$/m, "output: result\nruntime: claude-code"));
    const cards = await loadRoleCards(dir);
    expect(cards.get("generator")?.runtime).toBe("claude-code");
    expect(cards.get("tester")?.runtime).toBe("builtin");
  });

  const broken: Array<[string, string, (t: string) => string, string]> = [
    ["tester", "an unknown runtime", (t) => t.replace(/^output: result$/m, "output: result\nruntime: aider"), "runtime:"],
    ["generator", "a negative max_turns", (t) => t.replace(/^max_turns: \d+$/m, "max_turns: -3"), "max_turns: expected a positive integer"],
    ["generator", "a fractional max_turns", (t) => t.replace(/^max_turns: \d+$/m, "max_turns: 2.5"), "max_turns: expected a positive integer"],
    ["tester", "a missing timeout", (t) => t.replace(/^timeout: \d+\n/m, ""), "timeout: is required"],
    ["planner", "a route without a provider", (t) => t.replace(/^model: .*$/m, "model: claude"), "model: a route is '<provider>/<model>'"],
    ["reviewer", "an unknown role", (t) => t.replace(/^role: .*$/m, "role: boss"), "role: expected one of planner, generator, tester, reviewer"],
    ["reviewer", "an unknown field", (t) => t.replace(/^role: reviewer$/m, "role: reviewer\nsudo: true"), "sudo: unknown field"],
    ["planner", "a planner returning a result", (t) => t.replace(/^output: plan$/m, "output: result"), 'output: the planner role returns a "plan"'],
    ["reviewer", "a reviewer returning a result", (t) => t.replace(/^output: review$/m, "output: result"), 'output: the reviewer role returns a "review"'],
    ["generator", "a generator returning a review", (t) => t.replace(/^output: result$/m, "output: review"), 'output: the generator role returns a "result"'],
    ["tester", "tools that are not a list", (t) => t.replace(/^tools: .*$/m, "tools: read_file"), "tools: expected a list of tool names"],
    ["generator", "an empty prompt", (t) => t.replace(/\n---\n[\s\S]*$/, "\n---\n\n"), "body: the role's prompt is empty"],
    ["generator", "no front matter", (t) => t.replace(/^---\n/, ""), "front matter: expected the file to start with a '---' block"],
    ["generator", "broken YAML", (t) => t.replace(/^tools: .*$/m, "tools: [read_file"), "front matter:"],
  ];

  for (const [role, what, change, message] of broken) {
    it(`names the file and field for ${what}`, async () => {
      const file = await edit(role, change);
      await expect(loadRoleCards(dir)).rejects.toThrow(`${file}: ${message}`);
    });
  }

  it("rejects a reviewer card that lists write_file, naming the tool", async () => {
    const file = await edit("reviewer", (t) => t.replace(/^tools: .*$/m, "tools: [read_file, write_file, finish]"));
    await expect(loadRoleCards(dir)).rejects.toThrow(`${file}: tools: "write_file" is not allowed for the reviewer role`);
  });

  it("rejects a planner card that lists run", async () => {
    const file = await edit("planner", (t) => t.replace(/^tools: .*$/m, "tools: [read_file, run]"));
    await expect(loadRoleCards(dir)).rejects.toThrow(`${file}: tools: "run" is not allowed for the planner role`);
  });

  it("rejects two cards for one role, and a missing role", async () => {
    await writeFile(path.join(dir, "second-reviewer.md"), await readFile(path.join(dir, "reviewer.md"), "utf8"));
    await expect(loadRoleCards(dir)).rejects.toThrow(/reviewer\.md: role: "reviewer" is already defined by .*reviewer\.md/);
    await rm(path.join(dir, "second-reviewer.md"));
    await rm(path.join(dir, "tester.md"));
    await expect(loadRoleCards(dir)).rejects.toThrow(`${dir}: no role card for tester`);
  });
});

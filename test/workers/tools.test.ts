import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildTools, roleAllowance, type AgentTool, type ToolContext } from "../../src/workers/tools.js";
import type { RoleName } from "../../src/workers/role-card.js";
import type { SandboxOutcome } from "../../src/workspace/types.js";

let base: string;
let wt: string;
let outside: string;
let refusals: Array<{ tool: string; why: string }>;
let commands: string[];

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "shopfloor-tools-"));
  wt = path.join(base, "wt");
  outside = path.join(base, "outside");
  await mkdir(path.join(wt, "src"), { recursive: true });
  await mkdir(path.join(wt, "test"), { recursive: true });
  await mkdir(path.join(wt, ".git", "hooks"), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(wt, "src", "a.ts"), "export const a = 1;\n");
  await writeFile(path.join(wt, "src", "b.ts"), "export const b = 2;\nexport const b2 = 2;\n");
  await writeFile(path.join(wt, "test", "a.test.ts"), "test('a', () => {});\n");
  await writeFile(path.join(wt, ".git", "config"), "[core]\nneedle-in-git = true\n");
  await writeFile(path.join(outside, "secret.txt"), "needle outside\n");
  await symlink("/etc", path.join(wt, "link-etc"));
  await symlink(outside, path.join(wt, "link-out"));
  await symlink(".git", path.join(wt, "link-git"));
  await symlink(path.join(outside, "created-through-link.txt"), path.join(wt, "dangling"));
  refusals = [];
  commands = [];
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function tools(role: RoleName, overrides: Partial<ToolContext> = {}): Map<string, AgentTool> {
  const ctx: ToolContext = {
    worktree: wt,
    ownedFiles: ["src/a.ts", "src/new/"],
    testPaths: ["test/", "src/**/*.spec.ts"],
    runCommand: async (command): Promise<SandboxOutcome> => {
      commands.push(command);
      return { exitCode: command === "false" ? 1 : 0, ms: 12, output: `ran ${command}\n`, timedOut: false, truncated: false };
    },
    onRefusal: (tool, why) => refusals.push({ tool, why }),
    ...overrides,
  };
  return new Map(buildTools(role, [...roleAllowance[role], "finish"], ctx).map((t) => [t.def.name, t]));
}

async function call(set: Map<string, AgentTool>, name: string, args: unknown) {
  const t = set.get(name);
  if (!t) throw new Error(`tool ${name} not offered`);
  return t.execute(args);
}

describe("tool sets per role", () => {
  it("offers read-only tools to the planner and reviewer, and writing tools to the others", () => {
    for (const role of ["planner", "reviewer"] as const) {
      expect([...tools(role).keys()].sort()).toEqual(["list_files", "read_file", "search"]);
    }
    for (const role of ["generator", "tester"] as const) {
      expect([...tools(role).keys()].sort()).toEqual(["edit_file", "list_files", "read_file", "run", "search", "write_file"]);
    }
  });

  it("offers only what the card lists", () => {
    const set = buildTools("generator", ["read_file", "finish"], { worktree: wt, ownedFiles: [], testPaths: [], runCommand: async () => { throw new Error("unused"); } });
    expect(set.map((t) => t.def.name)).toEqual(["read_file"]);
  });

  it("refuses to build a write tool for a read-only role even if asked", () => {
    expect(() =>
      buildTools("reviewer", ["read_file", "write_file"], { worktree: wt, ownedFiles: [], testPaths: [], runCommand: async () => { throw new Error("unused"); } }),
    ).toThrow(/write_file/);
  });

  it("gives every tool an object JSON Schema for its arguments", () => {
    for (const t of tools("generator").values()) expect(t.def.inputSchema).toMatchObject({ type: "object" });
  });
});

describe("paths stay inside the worktree", () => {
  const escapes: Array<[string, RegExp]> = [
    ["../outside/secret.txt", /outside the repository/],
    ["src/../../outside/secret.txt", /outside the repository/],
    ["/etc/passwd", /absolute path/],
    ["link-etc/passwd", /symlink/],
    ["link-out/secret.txt", /symlink/],
    [".git/config", /\.git/],
    ["src/../.git/config", /\.git/],
    ["link-git/config", /\.git/],
  ];

  for (const [p, why] of escapes) {
    it(`refuses to read ${p}`, async () => {
      const result = await call(tools("reviewer"), "read_file", { path: p });
      expect(result.isError).toBe(true);
      expect(result.content).toMatch(/^refused: /);
      expect(result.content).toMatch(why);
      expect(result.content).not.toContain("needle");
      expect(result.content).not.toContain("root:");
      expect(refusals).toEqual([{ tool: "read_file", why: expect.stringMatching(why) }]);
    });
  }

  it("reads a file inside the worktree, including through a path with an inner '..'", async () => {
    const result = await call(tools("planner"), "read_file", { path: "test/../src/a.ts" });
    expect(result).toEqual({ content: "export const a = 1;\n", isError: false });
    expect(refusals).toEqual([]);
  });

  it("caps what read_file returns and says so", async () => {
    await writeFile(path.join(wt, "src", "big.txt"), "x".repeat(300 * 1024));
    const result = await call(tools("planner"), "read_file", { path: "src/big.txt" });
    expect(result.isError).toBe(false);
    expect(result.content.length).toBeLessThan(210 * 1024);
    expect(result.content).toMatch(/truncated: showed the first 204800 of 307200 bytes/);
  });

  it("reports a missing file as a tool error", async () => {
    const result = await call(tools("planner"), "read_file", { path: "src/nope.ts" });
    expect(result).toEqual({ content: "read_file: no such file or directory", isError: true });
  });

  it("rejects invalid arguments as a tool error", async () => {
    const result = await call(tools("planner"), "read_file", { path: 42 });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/invalid arguments for read_file/);
  });

  it("lists files recursively without .git and without following symlinks", async () => {
    const result = await call(tools("planner"), "list_files", {});
    const lines = result.content.split("\n");
    expect(lines).toEqual(expect.arrayContaining(["src/", "src/a.ts", "src/b.ts", "test/a.test.ts", "link-etc (symlink)"]));
    expect(result.content).not.toMatch(/\.git\/|config|passwd|secret/);
    const refused = await call(tools("planner"), "list_files", { path: "link-etc" });
    expect(refused.isError).toBe(true);
    expect(refusals.map((r) => r.tool)).toEqual(["list_files"]);
  });

  it("searches the worktree but not .git, symlinked folders, or outside it", async () => {
    const found = await call(tools("planner"), "search", { pattern: "export const b" });
    expect(found).toEqual({ content: "src/b.ts:1:export const b = 2;\nsrc/b.ts:2:export const b2 = 2;", isError: false });
    const hidden = await call(tools("planner"), "search", { pattern: "needle" });
    expect(hidden).toEqual({ content: "no matches", isError: false });
    const escaped = await call(tools("planner"), "search", { pattern: "needle", path: "../outside" });
    expect(escaped.isError).toBe(true);
    expect(refusals.map((r) => r.tool)).toEqual(["search"]);
  });

  it("searches without ripgrep too, with the same answers", async () => {
    const savedPath = process.env.PATH;
    process.env.PATH = path.join(base, "empty-bin");
    try {
      const found = await call(tools("planner"), "search", { pattern: "b2", path: "src" });
      expect(found).toEqual({ content: "src/b.ts:2:export const b2 = 2;", isError: false });
      const hidden = await call(tools("planner"), "search", { pattern: "needle" });
      expect(hidden).toEqual({ content: "no matches", isError: false });
      const bad = await call(tools("planner"), "search", { pattern: "(" });
      expect(bad.isError).toBe(true);
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it("reports an invalid regular expression as a tool error", async () => {
    const result = await call(tools("planner"), "search", { pattern: "(" });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/search failed/);
  });
});

describe("writes", () => {
  it("lets the generator write its owned files and they land on disk", async () => {
    const set = tools("generator");
    expect(await call(set, "write_file", { path: "src/a.ts", content: "export const a = 42;\n" })).toEqual({
      content: "wrote 21 bytes to src/a.ts",
      isError: false,
    });
    expect(await readFile(path.join(wt, "src", "a.ts"), "utf8")).toBe("export const a = 42;\n");
    const nested = await call(set, "write_file", { path: "src/new/deep/c.ts", content: "c" });
    expect(nested.isError).toBe(false);
    expect(await readFile(path.join(wt, "src", "new", "deep", "c.ts"), "utf8")).toBe("c");
    expect(refusals).toEqual([]);
  });

  it("refuses a generator's write outside its owned files", async () => {
    const before = await readFile(path.join(wt, "src", "b.ts"), "utf8");
    const result = await call(tools("generator"), "write_file", { path: "src/b.ts", content: "hacked" });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/not one of this subtask's files/);
    expect(await readFile(path.join(wt, "src", "b.ts"), "utf8")).toBe(before);
    const edit = await call(tools("generator"), "edit_file", { path: "src/b.ts", old: "b2", new: "b3" });
    expect(edit.isError).toBe(true);
    expect(await readFile(path.join(wt, "src", "b.ts"), "utf8")).toBe(before);
    expect(refusals.map((r) => r.tool)).toEqual(["write_file", "edit_file"]);
  });

  const forbidden: Array<[string, () => string]> = [
    ["../escape.txt", () => path.join(base, "escape.txt")],
    ["/tmp/shopfloor-absolute.txt", () => "/tmp/shopfloor-absolute.txt"],
    ["link-out/planted.txt", () => path.join(outside, "planted.txt")],
    ["link-etc/shopfloor-planted", () => "/etc/shopfloor-planted"],
    ["dangling", () => path.join(outside, "created-through-link.txt")],
    [".git/hooks/pre-commit", () => path.join(wt, ".git", "hooks", "pre-commit")],
    ["link-git/hooks/post-checkout", () => path.join(wt, ".git", "hooks", "post-checkout")],
  ];

  for (const [p, target] of forbidden) {
    it(`refuses to write ${p} even with no owned-file limit`, async () => {
      const result = await call(tools("generator", { ownedFiles: [] }), "write_file", { path: p, content: "#!/bin/sh\nexit 0\n" });
      expect(result.isError).toBe(true);
      expect(result.content).toMatch(/^refused: /);
      expect(existsSync(target())).toBe(false);
      expect(refusals).toHaveLength(1);
      expect(refusals[0]?.tool).toBe("write_file");
    });
  }

  it("lets a generator with no owned files write anywhere in the worktree", async () => {
    const result = await call(tools("generator", { ownedFiles: [] }), "write_file", { path: "docs/notes.md", content: "n" });
    expect(result.isError).toBe(false);
    expect(await readFile(path.join(wt, "docs", "notes.md"), "utf8")).toBe("n");
  });

  it("lets the tester write only under the test paths", async () => {
    const set = tools("tester");
    expect((await call(set, "write_file", { path: "test/b.test.ts", content: "t" })).isError).toBe(false);
    expect((await call(set, "write_file", { path: "src/deep/x.spec.ts", content: "t" })).isError).toBe(false);
    expect(existsSync(path.join(wt, "test", "b.test.ts"))).toBe(true);
    expect(existsSync(path.join(wt, "src", "deep", "x.spec.ts"))).toBe(true);

    const refused = await call(set, "write_file", { path: "src/a.ts", content: "oops" });
    expect(refused.isError).toBe(true);
    expect(refused.content).toMatch(/not under the test paths/);
    expect(await readFile(path.join(wt, "src", "a.ts"), "utf8")).toBe("export const a = 1;\n");
    const sneaky = await call(set, "write_file", { path: "testing/x.ts", content: "oops" });
    expect(sneaky.isError).toBe(true);
    expect(refusals.map((r) => r.tool)).toEqual(["write_file", "write_file"]);
  });

  it("refuses every write by a tester with no test paths", async () => {
    const result = await call(tools("tester", { testPaths: [] }), "write_file", { path: "test/x.test.ts", content: "t" });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/no test paths/);
  });
});

describe("edit_file", () => {
  it("replaces exactly one occurrence, keeping the rest of the file", async () => {
    const result = await call(tools("generator", { ownedFiles: [] }), "edit_file", { path: "src/b.ts", old: "b2 = 2", new: "b2 = $& 3" });
    expect(result).toEqual({ content: "edited src/b.ts", isError: false });
    expect(await readFile(path.join(wt, "src", "b.ts"), "utf8")).toBe("export const b = 2;\nexport const b2 = $& 3;\n");
  });

  it("refuses an ambiguous edit and leaves the file unchanged", async () => {
    const result = await call(tools("generator", { ownedFiles: [] }), "edit_file", { path: "src/b.ts", old: "export const", new: "const" });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/occurs 2 times/);
    expect(await readFile(path.join(wt, "src", "b.ts"), "utf8")).toBe("export const b = 2;\nexport const b2 = 2;\n");
  });

  it("reports text that is not there", async () => {
    const result = await call(tools("generator", { ownedFiles: [] }), "edit_file", { path: "src/b.ts", old: "nothing like this", new: "x" });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/not found/);
  });

  it("reports a missing file", async () => {
    const result = await call(tools("generator", { ownedFiles: [] }), "edit_file", { path: "src/none.ts", old: "a", new: "b" });
    expect(result).toEqual({ content: "edit_file: no such file or directory", isError: true });
  });
});

describe("run", () => {
  it("runs the command through the injected sandbox and returns the exit code and output", async () => {
    const set = tools("tester");
    const good = await call(set, "run", { command: "npm test" });
    expect(good).toEqual({ content: "exit code 0 after 12 ms\nran npm test\n", isError: false });
    const bad = await call(set, "run", { command: "false" });
    expect(bad.isError).toBe(true);
    expect(bad.content).toMatch(/^exit code 1/);
    expect(commands).toEqual(["npm test", "false"]);
  });

  it("returns only the tail of long output", async () => {
    const set = tools("generator", {
      runCommand: async () => ({ exitCode: 0, ms: 1, output: `${"a".repeat(100_000)}THE END`, timedOut: false, truncated: false }),
    });
    const result = await call(set, "run", { command: "build" });
    expect(result.content.length).toBeLessThan(17 * 1024);
    expect(result.content).toMatch(/THE END$/);
    expect(result.content).toMatch(/showing the last/);
  });
});

/**
 * `shopfloor/testing` runs in a team's own CI from the built package, where only Shopfloor's
 * `dependencies` are installed: nothing it loads may be vitest, nock or another dev-only tool.
 */
import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as testing from "../../src/testing/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Every bare module specifier reached from `entry` through relative imports (type-only imports aside). */
async function packagesReachedFrom(entry: string): Promise<Map<string, string>> {
  const reached = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(file, "utf8");
    for (const match of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm)) {
      if (match[2]) continue;
      const spec = (match[3] ?? match[4] ?? match[5])!;
      if (spec.startsWith(".")) queue.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      else if (!reached.has(spec)) reached.set(spec, file.slice(root.length + 1));
    }
  }
  return reached;
}

const packageOf = (spec: string): string => (spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);

describe("shopfloor/testing", () => {
  it("loads only Node built-ins and Shopfloor's runtime dependencies", async () => {
    const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const reached = await packagesReachedFrom(join(root, "src/testing/index.ts"));
    expect(reached.size).toBeGreaterThan(0);
    const builtins = new Set(builtinModules);
    const outside = [...reached]
      .filter(([spec]) => !spec.startsWith("node:") && !builtins.has(spec) && !(packageOf(spec) in pkg.dependencies))
      .map(([spec, from]) => `${spec} (imported by ${from})`);
    expect(outside).toEqual([]);
  });

  it("exports the scripted model server, the turn helpers, the request readers and the planner, review and build trials", () => {
    for (const name of ["startModelServer", "toolCall", "finish", "systemPromptOf", "taskOf", "toolNamesOf", "runPlanner", "runReviewers", "runBuilder"]) {
      expect(typeof (testing as Record<string, unknown>)[name], name).toBe("function");
    }
  });
});

/**
 * The README of `shopfloor/testing` shows examples/testing/planner-card.test.ts. Importing it
 * here registers its tests in this file, so the example runs as written; the README's code
 * block must be that file, word for word, with the package name in place of the relative path.
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import "../../examples/testing/planner-card.test.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe("the README example of shopfloor/testing", () => {
  it("is the example file that runs above, with shopfloor/testing as the import", async () => {
    const readme = await readFile(join(root, "src/testing/README.md"), "utf8");
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const example = await readFile(join(root, "examples/testing/planner-card.test.ts"), "utf8");
    expect(example).toContain('from "../../src/testing/index.js"');
    expect(block).toBe(example.replace('from "../../src/testing/index.js"', 'from "shopfloor/testing"'));
  });
});

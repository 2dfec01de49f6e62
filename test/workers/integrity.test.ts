import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultTestPaths } from "../../src/workers/allowance.js";
import { checkIntegrity } from "../../src/workers/integrity.js";
import { makeLocalRepo, type LocalRepo } from "../kit/local-repo.js";
import { skipCall } from "../kit/skip-text.js";

const testPaths = [...defaultTestPaths, "**/*_test.go"];
const protectedPaths = [".github/workflows/**"];

const mathTest = [
  'import { describe, it, test, expect } from "vitest";',
  'import { add } from "../src/math.js";',
  'describe("add", () => {',
  '  it("adds", () => expect(add(1, 2)).toBe(3));',
  '  it("adds zero", () => expect(add(1, 0)).toBe(1));',
  '  test("adds negatives", () => expect(add(-1, -2)).toBe(-3));',
  "});",
  "",
].join("\n");

const baseFiles = {
  "src/math.ts": "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
  "test/math.test.ts": mathTest,
  "test/old.test.ts": 'import { it } from "vitest";\nit("one", () => {});\nit("two", () => {});\n',
  "tests/test_calc.py": "def test_add():\n    assert 1 + 1 == 2\n",
  ".github/workflows/ci.yml": "on: push\njobs: {}\n",
  "README.md": "# math\n",
};

let repo: LocalRepo;
let base: string;
beforeEach(async () => {
  repo = await makeLocalRepo("integrity-test-");
  base = await repo.commit(baseFiles, "base");
});
afterEach(async () => {
  await repo.remove();
});

/** A branch from the base with `changes` committed; the default branch stays where it is. */
async function branch(name: string, changes: Record<string, string | null>): Promise<string> {
  await repo.git(["checkout", "--quiet", "-b", name, base]);
  const sha = await repo.commit(changes, name);
  await repo.git(["checkout", "--quiet", "main"]);
  return sha;
}

describe("checkIntegrity", () => {
  it("reports a deleted test, new skips and focus, a lower count, a touched workflow and a conflict", async () => {
    const head = await branch("run", {
      "test/old.test.ts": null,
      "test/math.test.ts": mathTest
        .replace('it("adds",', `${skipCall("it", "skip")}"adds",`)
        .replace('describe("add",', `${skipCall("describe", "only")}"add",`),
      ".github/workflows/ci.yml": "on: push\njobs: { pwn: {} }\n",
      "src/math.ts": "export function add(a: number, b: number): number {\n  return b + a;\n}\n",
    });
    // Meanwhile the default branch changed the same line.
    const tip = await repo.commit({ "src/math.ts": "export function add(a: number, b: number): number {\n  return Number(a) + Number(b);\n}\n" }, "tip");

    const integrity = await checkIntegrity({ mirror: repo.dir, baseSha: base, headSha: head, defaultBranchTip: tip, protectedPaths, testPaths });
    expect(integrity).toEqual({
      deletedTests: ["test/old.test.ts"],
      newSkips: [`test/math.test.ts:3: ${skipCall("describe", "only")}"add", () => {`, `test/math.test.ts:4: ${skipCall("it", "skip")}"adds", () => expect(add(1, 2)).toBe(3));`],
      // Base: three in math, two in old, one in Python. Head: the skipped one and old's two are gone.
      testCountBase: 6,
      testCountHead: 3,
      protectedTouched: [".github/workflows/ci.yml"],
      conflicts: ["src/math.ts"],
    });
  });

  it("finds nothing wrong in a clean change, even when the default branch moved", async () => {
    const head = await branch("run", {
      "src/math.ts": "export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport const sub = (a: number, b: number) => a - b;\n",
      "test/sub.test.ts": 'import { it } from "vitest";\nconst parts = "a,b".split(",").slice(1);\nit("subtracts", () => {});\n',
      "test/math.test.ts": mathTest.replace("});\n", '  it("adds big", () => expect(add(1e9, 1)).toBe(1e9 + 1));\n});\n'),
      // Not test code: words like skip and only outside a test file are nobody's business here.
      "src/list.ts": `export const rest = (xs: number[]) => xs.values().drop(1);\n// ${skipCall("it", "only")} is fine in a comment of source code\n`,
    });
    const tip = await repo.commit({ "README.md": "# math\n\nNow documented.\n" }, "tip");

    const integrity = await checkIntegrity({ mirror: repo.dir, baseSha: base, headSha: head, defaultBranchTip: tip, protectedPaths, testPaths });
    expect(integrity).toEqual({ deletedTests: [], newSkips: [], testCountBase: 6, testCountHead: 8, protectedTouched: [], conflicts: [] });
  });

  it("counts a test file moved out of the test paths as deleted, and one moved within them as kept", async () => {
    await repo.git(["checkout", "--quiet", "-b", "run", base]);
    await repo.move("test/old.test.ts", "src/old.ts");
    await repo.move("test/math.test.ts", "test/unit/math.test.ts");
    const head = await repo.commit({}, "move");

    const integrity = await checkIntegrity({ mirror: repo.dir, baseSha: base, headSha: head, defaultBranchTip: base, protectedPaths, testPaths });
    expect(integrity.deletedTests).toEqual(["test/old.test.ts"]);
    expect(integrity.testCountHead).toBe(4);
  });

  it("recognizes skips and declarations of Python, Go and Rust tests", async () => {
    const head = await branch("run", {
      "tests/test_calc.py": [
        "import pytest, unittest",
        "def test_add():",
        "    assert 1 + 1 == 2",
        '@pytest.mark.skip(reason="flaky")',
        "def test_sub():",
        "    assert 1 - 1 == 0",
        "class T(unittest.TestCase):",
        "    @unittest.skipIf(True, 'later')",
        "    def test_mul(self):",
        "        self.skipTest('no')",
        "",
      ].join("\n"),
      "pkg/calc_test.go": 'package pkg\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n\tt.Skip("later")\n}\n',
      "tests/calc.rs": "#[test]\n#[ignore]\nfn adds() {}\n\n#[tokio::test]\nasync fn adds_async() {\n    let _ = [1, 2].iter().skip(1);\n}\n",
      "test/more.test.ts": 'import { xit, fit } from "vitest";\nxit("x", () => {});\nfit("f", () => {});\nit.todo("later");\n',
    });

    const integrity = await checkIntegrity({ mirror: repo.dir, baseSha: base, headSha: head, defaultBranchTip: base, protectedPaths, testPaths });
    expect(integrity.newSkips).toEqual([
      "pkg/calc_test.go:6: t.Skip(\"later\")",
      "test/more.test.ts:2: xit(\"x\", () => {});",
      "test/more.test.ts:3: fit(\"f\", () => {});",
      "test/more.test.ts:4: it.todo(\"later\");",
      "tests/calc.rs:2: #[ignore]",
      'tests/test_calc.py:4: @pytest.mark.skip(reason="flaky")',
      "tests/test_calc.py:8: @unittest.skipIf(True, 'later')",
      "tests/test_calc.py:10: self.skipTest('no')",
    ]);
    // Base 6; head adds: 2 Python (test_sub, test_mul), 1 Go, 2 Rust. xit/fit/it.todo are not plain it(.
    expect(integrity.testCountHead).toBe(11);
    expect(integrity.conflicts).toEqual([]);
  });
});

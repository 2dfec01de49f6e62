import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffBetween, parseDiff, type DiffFile } from "../../src/workspace/diff.js";
import { makeLocalRepo, type LocalRepo } from "../kit/local-repo.js";

const lines = (n: number, edit: (i: number) => string | string[] = (i) => `line ${i}`) =>
  Array.from({ length: n }, (_, k) => edit(k + 1)).flat().join("\n") + "\n";

let repo: LocalRepo;
let base: string;
let head: string;
let files: DiffFile[];

beforeAll(async () => {
  repo = await makeLocalRepo("diff-test-");
  base = await repo.commit({
    "src/calc.ts": lines(20),
    "docs/my notes.md": "a\nb\nc\n",
    "old/name.txt": lines(10, (i) => `row ${i}`),
    "keep.txt": "kept as it is\n",
    "gone.txt": "bye\n",
    "nonl.txt": "x\ny",
    "logo.png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]),
    "é.txt": "x\n",
    "tricky.txt": "keep\n-- a/x\nend\n",
  });
  await repo.move("old/name.txt", "new/name.txt");
  await repo.move("keep.txt", "kept copy.txt");
  head = await repo.commit({
    // Line 3 changed; two lines inserted after line 10. Line 7 is outside both hunks.
    "src/calc.ts": lines(20, (i) => (i === 3 ? "LINE 3" : i === 10 ? ["line 10", "new A", "new B"] : `line ${i}`)),
    "docs/my notes.md": "a\nB\nc\n",
    "new/name.txt": lines(10, (i) => (i === 5 ? "ROW 5" : `row ${i}`)),
    "gone.txt": null,
    "nonl.txt": "x\nz",
    "logo.png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 9, 9, 9]),
    "é.txt": "y\n",
    'new dir/say "hi".txt': "one\ntwo\nthree\n",
    // Content that looks like file headers inside a hunk.
    "tricky.txt": "keep\n++ b/y\nend\n",
  });
  files = parseDiff(await diffBetween(repo.dir, base, head));
});

afterAll(async () => {
  await repo?.remove();
});

const file = (path: string) => {
  const found = files.find((f) => f.path === path);
  if (!found) throw new Error(`${path} not in diff: ${files.map((f) => f.path).join(", ")}`);
  return found;
};

describe("parseDiff of real git diff output", () => {
  it("lists every changed file once with its status", () => {
    expect(files.map((f) => [f.path, f.status]).sort()).toEqual(
      [
        ["docs/my notes.md", "modified"],
        ["gone.txt", "deleted"],
        ["kept copy.txt", "renamed"],
        ["logo.png", "modified"],
        ['new dir/say "hi".txt', "added"],
        ["new/name.txt", "renamed"],
        ["nonl.txt", "modified"],
        ["src/calc.ts", "modified"],
        ["tricky.txt", "modified"],
        ["é.txt", "modified"],
      ].sort(),
    );
  });

  it("numbers added and context lines on the right side, hunk by hunk", () => {
    const calc = file("src/calc.ts");
    expect(calc.addedLines).toEqual([3, 11, 12]);
    expect(calc.added).toEqual([
      { line: 3, text: "LINE 3" },
      { line: 11, text: "new A" },
      { line: 12, text: "new B" },
    ]);
    expect(calc.rightLines).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(calc.rightLines).not.toContain(7);
    expect(calc.rightLines).not.toContain(20);
  });

  it("keeps both names of a renamed file, with or without content changes", () => {
    expect(file("new/name.txt")).toMatchObject({ oldPath: "old/name.txt", addedLines: [5], added: [{ line: 5, text: "ROW 5" }] });
    expect(file("kept copy.txt")).toMatchObject({ oldPath: "keep.txt", addedLines: [], rightLines: [] });
  });

  it("handles added, deleted and binary files", () => {
    expect(file('new dir/say "hi".txt')).toMatchObject({ addedLines: [1, 2, 3], rightLines: [1, 2, 3], binary: false });
    expect(file('new dir/say "hi".txt').oldPath).toBeUndefined();
    expect(file("gone.txt")).toMatchObject({ addedLines: [], rightLines: [], binary: false });
    expect(file("logo.png")).toMatchObject({ binary: true, addedLines: [], rightLines: [] });
  });

  it("reads quoted names and names with spaces", () => {
    expect(file("é.txt").added).toEqual([{ line: 1, text: "y" }]);
    expect(file("docs/my notes.md").added).toEqual([{ line: 2, text: "B" }]);
  });

  it("ignores the no-newline marker and header-like content lines", () => {
    expect(file("nonl.txt")).toMatchObject({ added: [{ line: 2, text: "z" }], rightLines: [1, 2] });
    expect(file("tricky.txt")).toMatchObject({ added: [{ line: 2, text: "++ b/y" }], rightLines: [1, 2, 3] });
  });

  it("agrees with the files as they are at the head", async () => {
    for (const f of files.filter((x) => x.status !== "deleted" && !x.binary)) {
      const content = await repo.git(["show", `${head}:${f.path}`]);
      const atHead = content.endsWith("\n") ? content.slice(0, -1).split("\n") : content.split("\n");
      for (const { line, text } of f.added) expect(atHead[line - 1], `${f.path}:${line}`).toBe(text);
      for (const line of f.rightLines) expect(line, f.path).toBeLessThanOrEqual(atHead.length);
    }
  });

  it("returns no files for no change", async () => {
    expect(await diffBetween(repo.dir, head, head)).toBe("");
    expect(parseDiff("")).toEqual([]);
  });
});

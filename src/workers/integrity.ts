import type { Integrity } from "../domain/index.js";
import { diffBetween, parseDiff, type DiffFile } from "../workspace/diff.js";
import { GitError, runGit } from "../workspace/git.js";
import { mergeConflicts } from "../workspace/merge-conflicts.js";
import { globMatch } from "./glob.js";

/**
 * Test integrity of a change, measured with git on the mirror (no checkout, no model): tests
 * must not disappear, be skipped or focused, or shrink in number; protected files (CI workflows)
 * are flagged; and the head must still merge into the default branch if that moved on.
 */

export interface IntegrityInput {
  /** A repository holding both commits (the runner's bare mirror). */
  mirror: string;
  baseSha: string;
  headSha: string;
  /** Where the default branch is now; conflicts are only looked for when it moved past the base. */
  defaultBranchTip: string;
  /** Globs (see glob.ts) of files a change should not touch unnoticed, e.g. `.github/workflows/**`. */
  protectedPaths: string[];
  /** Globs of test files, e.g. `defaultTestPaths` of allowance.ts. */
  testPaths: string[];
}

/**
 * Added lines that skip or focus tests, across the common frameworks: Jest/Vitest/Mocha/Jasmine/
 * Playwright (`.skip(`/`.only(` after `it`, `test` or `describe`, `test.concurrent.skip(`, `it.todo(`, `xit(`, `xtest(`,
 * `xdescribe(`, `fit(`, `fdescribe(`), pytest and unittest (`@pytest.mark.skip…`, `pytest.skip(`,
 * `@unittest.skip…`, `self.skipTest(`), Go (`t.Skip(`, `t.Skipf(`, `t.SkipNow(`) and Rust
 * (`#[ignore]`). `.skip(` is only taken after a test word, so `iter.skip(1)` is not a skip.
 */
const SKIP_OR_FOCUS = new RegExp(
  [
    String.raw`\b(?:it|test|describe|suite|context|specify)(?:\.\w+)*\.(?:skip|only|todo)\s*\(`,
    String.raw`(?<![\w$.])(?:xit|xtest|xdescribe|xcontext|fit|fdescribe)\s*\(`,
    String.raw`@pytest\.mark\.skip|\bpytest\.skip\s*\(|@unittest\.skip|\.skipTest\s*\(`,
    String.raw`\b[tb]\.Skip(?:f|Now)?\s*\(`,
    String.raw`#\[ignore\b`,
  ].join("|"),
);

/**
 * A test declaration, as a POSIX extended regex for `git grep -E`: `it(`/`test(` (not `x.test(`),
 * Python `def test…`, Go `func Test…`, Rust `#[test]` and `#[tokio::test]`-style attributes.
 * A heuristic: it counts matching lines, so two declarations on one line count once, and a
 * declaration built by a helper or a table (`it.each`) is not counted. It is compared only with
 * itself at the base, so what matters is that a lowered number means tests went away.
 */
const TEST_DECLARATION =
  "(^|[^[:alnum:]_$.])(it|test)[[:space:]]*\\(|^[[:space:]]*(async[[:space:]]+)?def[[:space:]]+test|^func[[:space:]]+Test|#\\[([[:alnum:]_]+::)?test\\]";

export async function checkIntegrity(opts: IntegrityInput): Promise<Integrity> {
  const files = parseDiff(await diffBetween(opts.mirror, opts.baseSha, opts.headSha));
  const isTest = (p: string) => opts.testPaths.some((g) => globMatch(g, p));
  const isProtected = (p: string) => opts.protectedPaths.some((g) => globMatch(g, p));

  const [testCountBase, testCountHead, conflicts] = await Promise.all([
    countTests(opts.mirror, opts.baseSha, isTest),
    countTests(opts.mirror, opts.headSha, isTest),
    opts.defaultBranchTip === opts.baseSha ? Promise.resolve([]) : mergeConflicts(opts.mirror, opts.defaultBranchTip, opts.headSha),
  ]);
  return {
    deletedTests: deletedTests(files, isTest),
    newSkips: newSkips(files, isTest),
    testCountBase,
    testCountHead,
    protectedTouched: unique(files.flatMap((f) => [f.oldPath, f.path].filter((p): p is string => p !== undefined && isProtected(p)))),
    conflicts,
  };
}

/** Test files deleted, or moved to a path that is no longer a test path. */
function deletedTests(files: DiffFile[], isTest: (p: string) => boolean): string[] {
  return files.flatMap((f) => {
    if (f.status === "deleted" && isTest(f.path)) return [f.path];
    if (f.status === "renamed" && f.oldPath && isTest(f.oldPath) && !isTest(f.path)) return [f.oldPath];
    return [];
  });
}

function newSkips(files: DiffFile[], isTest: (p: string) => boolean): string[] {
  return files
    .filter((f) => isTest(f.path))
    .flatMap((f) => f.added.filter((a) => SKIP_OR_FOCUS.test(a.text)).map((a) => `${f.path}:${a.line}: ${a.text.trim()}`));
}

/** Lines declaring a test, summed over the test files of one commit (see TEST_DECLARATION). */
async function countTests(repo: string, sha: string, isTest: (p: string) => boolean): Promise<number> {
  // `git grep` (2.39) takes no --end-of-options: refuse what it would read as an option.
  if (sha.startsWith("-")) throw new Error(`integrity: not a revision: ${JSON.stringify(sha)}`);
  let stdout: string;
  try {
    // -I skips binary files; -z ends each name with NUL, so any path parses.
    ({ stdout } = await runGit(["grep", "-c", "-I", "-z", "-E", "-e", TEST_DECLARATION, sha, "--"], { cwd: repo }));
  } catch (error) {
    if (error instanceof GitError && error.code === 1) return 0; // no line matched anywhere
    throw error;
  }
  let total = 0;
  // Each record: `<sha>:<path>\0<count>\n`.
  for (const record of stdout.split("\n")) {
    const nul = record.indexOf("\0");
    if (nul < 0) continue;
    const name = record.slice(0, nul);
    const path = name.startsWith(`${sha}:`) ? name.slice(sha.length + 1) : name;
    if (isTest(path)) total += Number(record.slice(nul + 1)) || 0;
  }
  return total;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

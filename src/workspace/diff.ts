import { runGit } from "./git.js";

/** One file of a `git diff`, with the head-side lines a review comment may be placed on. */
export interface DiffFile {
  /** The path at the head; for a deleted file, the path it had at the base. */
  path: string;
  status: "added" | "modified" | "deleted" | "renamed";
  /** The path at the base, for a renamed (or copied) file. */
  oldPath?: string;
  /** Git found no text diff ("Binary files ... differ"): there are no lines. */
  binary: boolean;
  /** Right-side (head) line numbers of `+` lines. */
  addedLines: number[];
  /** Every right-side line shown in a hunk, `+` and context: where GitHub accepts a comment with side RIGHT. */
  rightLines: number[];
  /** The `+` lines with their text (without the leading `+`). */
  added: { line: number; text: string }[];
}

/**
 * The change between two commits of a repository (bare mirror or worktree) as `git diff` text,
 * with renames detected and three lines of context. Options that a repo's or user's config could
 * change (colour, external diff drivers, text conversion, prefixes) are pinned.
 */
export async function diffBetween(mirror: string, base: string, head: string): Promise<string> {
  const { stdout } = await runGit(
    [
      "diff",
      "--no-color",
      "--no-ext-diff",
      "--no-textconv",
      "--unified=3",
      "-M",
      "--src-prefix=a/",
      "--dst-prefix=b/",
      "--end-of-options",
      base,
      head,
      "--",
    ],
    { cwd: mirror },
  );
  return stdout;
}

const HUNK = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/;
const OLD_COUNT = /^@@ -\d+(?:,(\d+))? /;

/** Parses `git diff` output (as `diffBetween` produces it) into files and their right-side lines. */
export function parseDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (!line.startsWith("diff --git ")) {
      i += 1;
      continue;
    }
    const names = headerNames(line.slice("diff --git ".length));
    let oldPath = names?.[0];
    let newPath = names?.[1];
    let status: DiffFile["status"] = "modified";
    let binary = false;
    let copied = false;
    i += 1;
    // Extended header lines, up to the first hunk or the next file.
    for (; i < lines.length; i += 1) {
      const h = lines[i]!;
      if (h.startsWith("diff --git ") || h.startsWith("@@ ")) break;
      if (h.startsWith("new file mode ")) status = "added";
      else if (h.startsWith("deleted file mode ")) status = "deleted";
      else if (h.startsWith("rename from ")) [status, oldPath] = ["renamed", unquote(h.slice(12))];
      else if (h.startsWith("rename to ")) newPath = unquote(h.slice(10));
      else if (h.startsWith("copy from ")) [status, copied, oldPath] = ["added", true, unquote(h.slice(10))];
      else if (h.startsWith("copy to ")) newPath = unquote(h.slice(8));
      else if (h.startsWith("Binary files ") || h === "GIT binary patch") binary = true;
      else if (h.startsWith("--- ")) oldPath = sidePath(h.slice(4), "a/") ?? oldPath;
      else if (h.startsWith("+++ ")) newPath = sidePath(h.slice(4), "b/") ?? newPath;
    }
    const file: DiffFile = {
      path: (status === "deleted" ? oldPath : newPath) ?? oldPath ?? "",
      status,
      binary,
      addedLines: [],
      rightLines: [],
      added: [],
    };
    if ((status === "renamed" || copied) && oldPath) file.oldPath = oldPath;
    // Hunks: read exactly as many lines as each header announces, so content that looks like a
    // header (a removed line "-- a/x" shows as "--- a/x") is never mistaken for one.
    while (i < lines.length && lines[i]!.startsWith("@@ ")) {
      const header = lines[i]!;
      const m = HUNK.exec(header);
      i += 1;
      if (!m) continue;
      let right = Number(m[1]);
      let newLeft = m[2] === undefined ? 1 : Number(m[2]);
      const oldMatch = OLD_COUNT.exec(header);
      let oldLeft = oldMatch?.[1] === undefined ? 1 : Number(oldMatch[1]);
      while (i < lines.length && (oldLeft > 0 || newLeft > 0 || lines[i]!.startsWith("\\"))) {
        const l = lines[i]!;
        const mark = l[0];
        if (mark === "\\") {
          // "\ No newline at end of file": about the line before; takes no line number.
        } else if (mark === "+") {
          file.addedLines.push(right);
          file.rightLines.push(right);
          file.added.push({ line: right, text: l.slice(1) });
          right += 1;
          newLeft -= 1;
        } else if (mark === "-") {
          oldLeft -= 1;
        } else if (mark === " " || l === "") {
          // Some tools strip the space of an empty context line.
          file.rightLines.push(right);
          right += 1;
          newLeft -= 1;
          oldLeft -= 1;
        } else {
          break; // malformed: stop this hunk rather than misnumber the rest
        }
        i += 1;
      }
    }
    files.push(file);
  }
  return files;
}

/** The two names of a `diff --git a/X b/Y` line; undefined when they cannot be told apart. */
function headerNames(rest: string): [string, string] | undefined {
  if (rest.startsWith('"')) {
    const [first, after] = readQuoted(rest);
    const second = after.trimStart();
    return [stripPrefix(first, "a/"), stripPrefix(second.startsWith('"') ? readQuoted(second)[0] : second, "b/")];
  }
  if (rest.endsWith('"')) {
    const at = rest.lastIndexOf(' "');
    if (at > 0) return [stripPrefix(rest.slice(0, at), "a/"), stripPrefix(readQuoted(rest.slice(at + 1))[0], "b/")];
  }
  // Unquoted names may hold spaces; when both are the same (no rename) the line splits in half.
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest[half] === " " && rest.slice(2, half) === rest.slice(half + 3)) {
    return [rest.slice(2, half), rest.slice(half + 3)];
  }
  const at = rest.indexOf(" b/");
  return at > 0 ? [stripPrefix(rest.slice(0, at), "a/"), rest.slice(at + 3)] : undefined;
}

/** The path of a `---`/`+++` line, or undefined for /dev/null. Git ends names with spaces by a tab. */
function sidePath(raw: string, prefix: string): string | undefined {
  const value = raw.startsWith('"') ? readQuoted(raw)[0] : raw.replace(/\t$/, "");
  if (value === "/dev/null") return undefined;
  return stripPrefix(value, prefix);
}

function stripPrefix(p: string, prefix: string): string {
  return p.startsWith(prefix) ? p.slice(prefix.length) : p;
}

function unquote(s: string): string {
  return s.startsWith('"') ? readQuoted(s)[0] : s;
}

const ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, "\\": 92 };

/** Reads git's C-style quoted name at the start of `s` (octal escapes are UTF-8 bytes); returns it and the rest. */
function readQuoted(s: string): [string, string] {
  const bytes: number[] = [];
  let i = 1;
  while (i < s.length && s[i] !== '"') {
    const c = String.fromCodePoint(s.codePointAt(i)!);
    if (c !== "\\") {
      bytes.push(...Buffer.from(c, "utf8"));
      i += c.length;
      continue;
    }
    const next = s[i + 1] ?? "";
    const octal = /^[0-7]{3}/.exec(s.slice(i + 1, i + 4));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 4;
    } else {
      bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
      i += 2;
    }
  }
  return [Buffer.from(bytes).toString("utf8"), s.slice(i + 1)];
}

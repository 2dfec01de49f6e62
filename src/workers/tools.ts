import { spawn } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { ToolDef } from "../models/types.js";
import type { SandboxOutcome } from "../workspace/types.js";
import type { RoleName } from "./role-card.js";

/**
 * The tools agents use, with least privilege enforced here, where the tool executes:
 * a prompt can ask for anything, but a path outside the worktree, anything under `.git`,
 * or a write outside the role's allowance is refused as a tool error the model sees.
 */

export interface AgentTool {
  def: ToolDef;
  execute(args: unknown): Promise<{ content: string; isError: boolean }>;
}

export interface ToolContext {
  /** The subtask's worktree: every path resolves inside it. */
  worktree: string;
  /** Repo-relative files the generator may write; empty means anywhere in the worktree but `.git`. */
  ownedFiles: string[];
  /** Where the tester may write: folders, files, or globs (`**`, `*`), repo-relative. */
  testPaths: string[];
  /** Runs a command line in the sandbox with the worktree as cwd. */
  runCommand: (command: string) => Promise<SandboxOutcome>;
  /** Told about every refused tool use, for the trace and the logs. */
  onRefusal?: (tool: string, why: string) => void;
}

/** The tool every agent gets from the agent loop; cards may list it, it is not built here. */
export const FINISH_TOOL = "finish";

const READ_ONLY = ["read_file", "list_files", "search"] as const;
const WRITING = [...READ_ONLY, "write_file", "edit_file", "run"] as const;

/** What each role may ever be given, whatever its card says. */
export const roleAllowance: Record<RoleName, readonly string[]> = {
  planner: READ_ONLY,
  reviewer: READ_ONLY,
  tester: WRITING,
  generator: WRITING,
};

/** Limits on what goes back to the model: tool output is paid for as input tokens. */
const LIMITS = {
  readBytes: 200 * 1024,
  writeBytes: 1024 * 1024,
  listEntries: 1000,
  searchLines: 200,
  searchBytes: 64 * 1024,
  runTailBytes: 16 * 1024,
};

type ToolOutput = { content: string; isError: boolean };
const ok = (content: string): ToolOutput => ({ content, isError: false });
const fail = (content: string): ToolOutput => ({ content, isError: true });

/** A refusal the model sees; thrown inside a tool and turned into a tool error by `tool()`. */
class Refusal extends Error {}

const PathArg = z.string().min(1, "path must not be empty").max(4096);

export function buildTools(role: RoleName, allowed: string[], ctx: ToolContext): AgentTool[] {
  const allowance = roleAllowance[role];
  const extra = allowed.filter((t) => t !== FINISH_TOOL && !allowance.includes(t));
  if (extra.length > 0) {
    // The card loader rejects such cards; reaching here is a bug, not a model's doing.
    throw new Error(`tools not allowed for the ${role} role: ${extra.join(", ")}`);
  }
  const jail = new Jail(ctx.worktree);
  const canWrite = writeRule(role, ctx);
  const all: Record<string, () => AgentTool> = {
    read_file: () => readFileTool(jail, ctx),
    list_files: () => listFilesTool(jail, ctx),
    search: () => searchTool(jail, ctx),
    write_file: () => writeFileTool(jail, ctx, canWrite),
    edit_file: () => editFileTool(jail, ctx, canWrite),
    run: () => runTool(ctx),
  };
  return allowance.filter((name) => allowed.includes(name)).flatMap((name) => all[name]?.() ?? []);
}

/** Wraps a tool: validates its args with zod and turns refusals and errors into tool errors. */
function tool<A>(
  ctx: ToolContext,
  def: ToolDef & { args: z.ZodType<A> },
  run: (args: A) => Promise<ToolOutput>,
): AgentTool {
  const { args: schema, ...toolDef } = def;
  return {
    def: toolDef,
    async execute(raw) {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) return fail(`invalid arguments for ${def.name}:\n${z.prettifyError(parsed.error)}`);
      try {
        return await run(parsed.data);
      } catch (error) {
        if (error instanceof Refusal) {
          ctx.onRefusal?.(def.name, error.message);
          return fail(`refused: ${error.message}`);
        }
        const e = error as NodeJS.ErrnoException;
        if (e.code === "ENOENT") return fail(`${def.name}: no such file or directory`);
        if (e.code === "EISDIR") return fail(`${def.name}: is a directory`);
        if (e.code === "ENOTDIR") return fail(`${def.name}: a parent of this path is not a directory`);
        return fail(`${def.name} failed: ${e.message ?? String(error)}`);
      }
    },
  };
}

function objectSchema(properties: Record<string, unknown>, required: string[]): Record<string, unknown> {
  return { type: "object", properties, required, additionalProperties: false };
}

/** A path the model gave, checked to lie inside the worktree. */
interface Resolved {
  /** Repo-relative, forward slashes, normalized; "" for the worktree root. */
  rel: string;
  abs: string;
}

/** Resolves model-supplied paths inside the worktree and refuses everything else. */
class Jail {
  private real: Promise<string> | undefined;
  constructor(private readonly root: string) {}

  private rootReal(): Promise<string> {
    this.real ??= realpath(this.root);
    return this.real;
  }

  async resolve(input: string): Promise<Resolved> {
    if (input.includes("\0")) throw new Refusal("the path contains a NUL byte");
    if (path.isAbsolute(input) || input.startsWith("\\") || /^[A-Za-z]:/.test(input)) {
      throw new Refusal(`"${input}" is an absolute path; use a path relative to the repository root`);
    }
    const root = await this.rootReal();
    const abs = path.resolve(root, input.replace(/\\/g, "/"));
    const rel = inside(root, abs);
    if (rel === undefined) throw new Refusal(`"${input}" is outside the repository`);
    if (isGitPath(rel)) throw new Refusal(`"${input}" is inside .git, which agents may not touch`);
    // Symlinks: the real location of the path (or of its nearest existing ancestor, for a
    // new file) must also be inside the worktree and outside .git.
    const real = await realLocation(abs);
    const realRel = inside(root, real);
    if (realRel === undefined) throw new Refusal(`"${input}" leads outside the repository through a symlink`);
    if (isGitPath(realRel)) throw new Refusal(`"${input}" leads into .git through a symlink`);
    return { rel, abs };
  }
}

/** The realpath of `abs`, or of its nearest existing ancestor joined with the rest. */
async function realLocation(abs: string): Promise<string> {
  let existing = abs;
  const rest: string[] = [];
  for (;;) {
    try {
      await lstat(existing);
      break;
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) break;
      rest.unshift(path.basename(existing));
      existing = parent;
    }
  }
  let real: string;
  try {
    real = await realpath(existing);
  } catch {
    // lstat saw it but realpath cannot follow it: a dangling symlink or a loop. Writing
    // through it would create its target wherever it points.
    throw new Refusal(`"${path.basename(existing)}" is a symlink that cannot be resolved`);
  }
  return path.join(real, ...rest);
}

/** The repo-relative form of `abs` if it lies inside `root` (the root itself is ""). */
function inside(root: string, abs: string): string | undefined {
  const rel = path.relative(root, abs);
  if (rel === "") return "";
  if (rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join("/");
}

function isGitPath(rel: string): boolean {
  return rel.split("/").some((segment) => segment.toLowerCase() === ".git");
}

/** Whether a role may write a repo-relative path; a string says why not. */
type WriteRule = (rel: string) => true | string;

function writeRule(role: RoleName, ctx: ToolContext): WriteRule {
  if (role === "generator") {
    if (ctx.ownedFiles.length === 0) return () => true;
    const owned = ctx.ownedFiles.map(normalizeRel);
    return (rel) =>
      owned.some((o) => o === rel || (o.endsWith("/") && rel.startsWith(o))) ||
      `"${rel}" is not one of this subtask's files (${owned.join(", ")})`;
  }
  if (role === "tester") {
    const matchers = ctx.testPaths.map(testPathMatcher);
    return (rel) =>
      matchers.some((m) => m(rel)) ||
      (ctx.testPaths.length === 0
        ? "no test paths are configured, so the tester may not write"
        : `"${rel}" is not under the test paths (${ctx.testPaths.join(", ")})`);
  }
  return () => `the ${role} role may not write files`;
}

function normalizeRel(p: string): string {
  const trailing = p.endsWith("/");
  const n = path.posix.normalize(p.replace(/\\/g, "/")).replace(/^\.\//, "");
  return trailing && !n.endsWith("/") ? `${n}/` : n;
}

/** A folder (`test`, `test/`), an exact file, or a glob with `*` and `**`. */
function testPathMatcher(entry: string): (rel: string) => boolean {
  const p = normalizeRel(entry);
  if (p.includes("*")) {
    const source = p
      .split(/(\*\*\/|\*\*|\*)/)
      .map((part) =>
        part === "**/" ? "(?:.*/)?" : part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("");
    const re = new RegExp(`^${source}$`);
    return (rel) => re.test(rel);
  }
  const dir = p.replace(/\/$/, "");
  return (rel) => rel === dir || rel.startsWith(`${dir}/`);
}

function checkWrite(canWrite: WriteRule, rel: string): void {
  const verdict = rel === "" ? "the repository root is not a file" : canWrite(rel);
  if (verdict !== true) throw new Refusal(verdict);
}

function readFileTool(jail: Jail, ctx: ToolContext): AgentTool {
  return tool(
    ctx,
    {
      name: "read_file",
      description: "Read a text file of the repository. The path is relative to the repository root.",
      inputSchema: objectSchema({ path: { type: "string", description: "repo-relative path" } }, ["path"]),
      args: z.object({ path: PathArg }),
    },
    async ({ path: p }) => {
      const { abs, rel } = await jail.resolve(p);
      const info = await stat(abs);
      if (info.isDirectory()) return fail(`"${rel || "."}" is a directory; use list_files`);
      const handle = await open(abs, "r");
      try {
        const buffer = Buffer.alloc(Math.min(info.size, LIMITS.readBytes));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
        const head = buffer.subarray(0, bytesRead);
        if (head.subarray(0, 8192).includes(0)) return ok(`"${rel}" is a binary file of ${info.size} bytes`);
        const text = head.toString("utf8");
        return ok(
          info.size > LIMITS.readBytes
            ? `${text}\n[truncated: showed the first ${LIMITS.readBytes} of ${info.size} bytes]`
            : text,
        );
      } finally {
        await handle.close();
      }
    },
  );
}

function listFilesTool(jail: Jail, ctx: ToolContext): AgentTool {
  return tool(
    ctx,
    {
      name: "list_files",
      description:
        "List files under a folder of the repository, recursively (folders end with '/'). Without a path, lists the whole repository.",
      inputSchema: objectSchema({ path: { type: "string", description: "repo-relative folder; default the root" } }, []),
      args: z.object({ path: PathArg.optional() }),
    },
    async ({ path: p }) => {
      const { abs, rel } = await jail.resolve(p ?? ".");
      if (!(await stat(abs)).isDirectory()) return fail(`"${rel}" is not a folder`);
      const entries: string[] = [];
      let truncated = false;
      const walk = async (dirAbs: string, dirRel: string): Promise<void> => {
        const children = (await readdir(dirAbs, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
        for (const child of children) {
          if (child.name === ".git") continue;
          if (entries.length >= LIMITS.listEntries) {
            truncated = true;
            return;
          }
          const childRel = dirRel ? `${dirRel}/${child.name}` : child.name;
          // Symlinked folders are listed, not followed: their target may be anywhere.
          if (child.isDirectory()) {
            if (child.name === "node_modules") {
              entries.push(`${childRel}/ (dependencies, not listed)`);
              continue;
            }
            entries.push(`${childRel}/`);
            await walk(path.join(dirAbs, child.name), childRel);
          } else {
            entries.push(child.isSymbolicLink() ? `${childRel} (symlink)` : childRel);
          }
        }
      };
      await walk(abs, rel);
      if (entries.length === 0) return ok("(empty)");
      return ok(entries.join("\n") + (truncated ? `\n[truncated at ${LIMITS.listEntries} entries; list a subfolder]` : ""));
    },
  );
}

function searchTool(jail: Jail, ctx: ToolContext): AgentTool {
  return tool(
    ctx,
    {
      name: "search",
      description:
        "Search file contents with a regular expression; prints path:line:text for each match. Optionally limit to a folder or file.",
      inputSchema: objectSchema(
        {
          pattern: { type: "string", description: "regular expression" },
          path: { type: "string", description: "repo-relative folder or file; default the root" },
        },
        ["pattern"],
      ),
      args: z.object({ pattern: z.string().min(1, "pattern must not be empty").max(1000), path: PathArg.optional() }),
    },
    async ({ pattern, path: p }) => {
      const root = await realpath(ctx.worktree);
      const { rel } = await jail.resolve(p ?? ".");
      const found = (await ripgrep(root, pattern, rel || ".")) ?? (await plainSearch(root, pattern, rel));
      if (found.error) return fail(found.error);
      if (found.lines.length === 0) return ok("no matches");
      return ok(found.lines.join("\n") + (found.truncated ? `\n[truncated: more matches exist; narrow the pattern or path]` : ""));
    },
  );
}

interface SearchFound {
  lines: string[];
  truncated: boolean;
  error?: string;
}

/** ripgrep, without a shell; undefined when it is not installed. */
function ripgrep(root: string, pattern: string, target: string): Promise<SearchFound | undefined> {
  return new Promise((resolve) => {
    const args = ["--json", "--hidden", "--glob", "!.git", "--max-columns", "300", "--max-count", "100", "-e", pattern, "--", target];
    const child = spawn("rg", args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    let bytes = 0;
    let truncated = false;
    let pending = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (truncated) return;
      pending += chunk;
      const records = pending.split("\n");
      pending = records.pop() ?? "";
      for (const record of records) {
        const line = matchLine(record);
        if (line === undefined) continue;
        if (lines.length >= LIMITS.searchLines || bytes + line.length > LIMITS.searchBytes) {
          truncated = true;
          child.kill();
          return;
        }
        lines.push(line);
        bytes += line.length + 1;
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < 4000) stderr += chunk;
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      resolve(error.code === "ENOENT" ? undefined : { lines: [], truncated: false, error: `search failed: ${error.message}` });
    });
    child.on("close", (code) => {
      // rg exits 1 for "no matches" and 2 for errors (bad regex, unreadable file).
      if (code === 2 && lines.length === 0 && !truncated) {
        resolve({ lines: [], truncated: false, error: `search failed: ${stderr.trim().slice(0, 2000)}` });
      } else {
        resolve({ lines, truncated });
      }
    });
  });
}

function matchLine(record: string): string | undefined {
  try {
    const r = JSON.parse(record) as {
      type?: string;
      data?: { path?: { text?: string }; line_number?: number; lines?: { text?: string } };
    };
    if (r.type !== "match" || !r.data?.path?.text) return undefined;
    const file = r.data.path.text.replace(/^\.\//, "");
    return `${file}:${r.data.line_number ?? 0}:${(r.data.lines?.text ?? "").replace(/\n$/, "").slice(0, 300)}`;
  } catch {
    return undefined;
  }
}

/** The same search in JavaScript, for machines without ripgrep. Symlinks are not followed. */
async function plainSearch(root: string, pattern: string, rel: string): Promise<SearchFound> {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (error) {
    return { lines: [], truncated: false, error: `search failed: ${(error as Error).message}` };
  }
  const lines: string[] = [];
  let bytes = 0;
  const visit = async (fileRel: string): Promise<boolean> => {
    const abs = path.join(root, fileRel);
    const info = await lstat(abs);
    if (info.isSymbolicLink()) return true;
    if (info.isDirectory()) {
      for (const name of (await readdir(abs)).sort()) {
        if (name === ".git" || name === "node_modules") continue;
        if (!(await visit(fileRel ? `${fileRel}/${name}` : name))) return false;
      }
      return true;
    }
    if (!info.isFile() || info.size > 2 * 1024 * 1024) return true;
    const content = await readFile(abs);
    if (content.subarray(0, 8192).includes(0)) return true;
    const text = content.toString("utf8").split("\n");
    for (let i = 0; i < text.length; i++) {
      if (!re.test(text[i] ?? "")) continue;
      const line = `${fileRel}:${i + 1}:${(text[i] ?? "").slice(0, 300)}`;
      if (lines.length >= LIMITS.searchLines || bytes + line.length > LIMITS.searchBytes) return false;
      lines.push(line);
      bytes += line.length + 1;
    }
    return true;
  };
  const complete = await visit(rel);
  return { lines, truncated: !complete };
}

/** Writes through an fd opened without following a final symlink, after the jail checks. */
async function writeChecked(abs: string, content: string): Promise<void> {
  await mkdir(path.dirname(abs), { recursive: true });
  const handle = await open(
    abs,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW,
    0o644,
  );
  try {
    await handle.writeFile(content, "utf8");
  } finally {
    await handle.close();
  }
}

function writeFileTool(jail: Jail, ctx: ToolContext, canWrite: WriteRule): AgentTool {
  return tool(
    ctx,
    {
      name: "write_file",
      description: "Create or overwrite a file with the given content. Parent folders are created.",
      inputSchema: objectSchema(
        { path: { type: "string", description: "repo-relative path" }, content: { type: "string" } },
        ["path", "content"],
      ),
      args: z.object({ path: PathArg, content: z.string() }),
    },
    async ({ path: p, content }) => {
      const { abs, rel } = await jail.resolve(p);
      checkWrite(canWrite, rel);
      const size = Buffer.byteLength(content, "utf8");
      if (size > LIMITS.writeBytes) return fail(`content is ${size} bytes; the limit is ${LIMITS.writeBytes}`);
      await writeChecked(abs, content);
      return ok(`wrote ${size} bytes to ${rel}`);
    },
  );
}

function editFileTool(jail: Jail, ctx: ToolContext, canWrite: WriteRule): AgentTool {
  return tool(
    ctx,
    {
      name: "edit_file",
      description:
        "Replace one exact occurrence of `old` with `new` in a file. `old` must occur exactly once; include enough surrounding lines to make it unique.",
      inputSchema: objectSchema(
        { path: { type: "string", description: "repo-relative path" }, old: { type: "string" }, new: { type: "string" } },
        ["path", "old", "new"],
      ),
      args: z.object({ path: PathArg, old: z.string().min(1, "old must not be empty"), new: z.string() }),
    },
    async ({ path: p, old, new: replacement }) => {
      const { abs, rel } = await jail.resolve(p);
      checkWrite(canWrite, rel);
      const text = await readFile(abs, "utf8");
      const first = text.indexOf(old);
      if (first === -1) return fail(`the text to replace was not found in ${rel}; read the file and copy it exactly`);
      const count = text.split(old).length - 1;
      if (count > 1) return fail(`the text to replace occurs ${count} times in ${rel}; include more context so it occurs once`);
      const next = text.slice(0, first) + replacement + text.slice(first + old.length);
      if (Buffer.byteLength(next, "utf8") > LIMITS.writeBytes) return fail(`the result exceeds ${LIMITS.writeBytes} bytes`);
      await writeChecked(abs, next);
      return ok(`edited ${rel}`);
    },
  );
}

function runTool(ctx: ToolContext): AgentTool {
  return tool(
    ctx,
    {
      name: "run",
      description:
        "Run a shell command in the repository root inside a sandbox (no network). Returns the exit code and the end of the output.",
      inputSchema: objectSchema({ command: { type: "string" } }, ["command"]),
      args: z.object({ command: z.string().min(1, "command must not be empty").max(10_000) }),
    },
    async ({ command }) => {
      const outcome = await ctx.runCommand(command);
      const tail = Buffer.from(outcome.output, "utf8");
      const shown =
        tail.length > LIMITS.runTailBytes
          ? `[showing the last ${LIMITS.runTailBytes} bytes]\n${tail.subarray(tail.length - LIMITS.runTailBytes).toString("utf8")}`
          : outcome.output;
      const head = [
        `exit code ${outcome.exitCode} after ${Math.round(outcome.ms)} ms`,
        outcome.timedOut ? " (timed out)" : "",
        outcome.truncated ? " (output was cut by the sandbox)" : "",
      ].join("");
      return { content: `${head}\n${shown}`, isError: outcome.exitCode !== 0 || outcome.timedOut };
    },
  );
}

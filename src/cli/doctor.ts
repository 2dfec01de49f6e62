import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultRepoConfig, terminalPhases } from "../domain/index.js";
import type { ProbotOctokit } from "probot";
import { describeDeprecation, findDeprecation } from "../models/deprecated.js";
import { loadRoleCards } from "../workers/role-card.js";
import { sandboxAvailable } from "../workspace/sandbox.js";
import { checkWorkflows } from "./workflow-audit.js";
import { checkQueueHealth } from "./queue-health.js";

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** Worth a look but not a failure (a deprecated model still answers): printed with "!". */
  warning?: boolean;
  detail: string;
  /** Printed indented under the check (the workflow audit's findings). */
  lines?: string[];
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
  /** Leftover worktrees and scratch dirs nothing references; safe to remove by hand. */
  orphans: string[];
}

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  stateDir: string;
  workDir: string;
  /** The role cards whose model routes are checked; the ones shipped with Shopfloor when left out. */
  agentsDir?: string;
  log: (line: string) => void;
  /** `owner/name`: also audit which of its workflows run agent code with secrets in reach. */
  repo?: string;
  /** The client class for `repo`; tests pass one without Octokit's spacing of writes. */
  Octokit?: typeof ProbotOctokit;
}

/** `git merge-tree --write-tree` (conflict checks without a checkout) arrived in 2.38. */
const minGit = [2, 38] as const;
/** Phases after which a run's jobs are over (gated, escalated, rejected, cancelled, done). */
const terminal = new Set<string>(terminalPhases);
/** A job scratch dir older than this outlived any job's timeout. */
const staleScratchMs = 24 * 60 * 60 * 1000;
/** A Redis that does not answer PING in this time is as good as down for the runner. */
const redisTimeoutMs = 3000;
/** `agents/` at the package root, one level above both `src/` and `dist/`. */
const packagedAgentsDir = fileURLToPath(new URL("../../agents", import.meta.url));

/**
 * `shopfloor doctor`: is this machine ready to run Shopfloor? Checks tools, credentials
 * (present or absent; never their values), directories and Redis, and lists leftovers.
 */
export async function doctor(opts: DoctorOptions): Promise<DoctorReport> {
  const { env } = opts;
  const checks: DoctorCheck[] = [
    await checkGit(),
    await checkSandbox(),
    await checkTool("ripgrep", "rg", ["--version"]),
    present("app id", env.APP_ID),
    await checkPrivateKey(env),
    present("webhook secret", env.WEBHOOK_SECRET),
    present("anthropic key", env.ANTHROPIC_API_KEY),
    present("openai key", env.OPENAI_API_KEY),
    await checkWritable("state dir", opts.stateDir),
    await checkWritable("work dir", opts.workDir),
    await checkModelRoutes(opts.agentsDir ?? packagedAgentsDir),
  ];
  if (env.REDIS_URL) {
    const redis = await checkRedis(env.REDIS_URL);
    checks.push(redis);
    // Only a Redis that answers can be asked about its queue.
    if (redis.ok) checks.push(await checkQueueHealth(env.REDIS_URL));
  }
  if (opts.repo) checks.push(await checkWorkflows(opts.repo, env, opts.Octokit));
  const orphans = await findOrphans(opts.stateDir, opts.workDir);
  for (const c of checks) {
    opts.log(`${!c.ok ? "✗" : c.warning ? "!" : "✓"} ${c.name}: ${c.detail}`);
    for (const line of c.lines ?? []) opts.log(`    ${line}`);
  }
  opts.log(orphans.length === 0 ? "no orphaned worktrees or scratch dirs" : `${orphans.length} orphaned (no active run uses them):`);
  for (const path of orphans) opts.log(`  ${path}`);
  return { ok: checks.every((c) => c.ok), checks, orphans };
}

async function checkGit(): Promise<DoctorCheck> {
  const out = await run("git", ["--version"]);
  if (!out.ok) return { name: "git", ok: false, detail: `not runnable: ${out.text}` };
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(out.text);
  if (!m) return { name: "git", ok: false, detail: `unrecognised version: ${out.text}` };
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const ok = major > minGit[0] || (major === minGit[0] && minor >= minGit[1]);
  const version = m[0];
  return { name: "git", ok, detail: ok ? version : `${version}; ${minGit.join(".")} or newer is needed for merge-tree --write-tree` };
}

async function checkSandbox(): Promise<DoctorCheck> {
  const check = await sandboxAvailable();
  return { name: "bubblewrap", ok: check.ok, detail: check.ok ? "a sandbox starts" : `cannot start a sandbox: ${check.reason ?? "unknown"}` };
}

async function checkTool(name: string, binary: string, args: string[]): Promise<DoctorCheck> {
  const out = await run(binary, args);
  return { name, ok: out.ok, detail: out.ok ? (out.text.split("\n")[0] ?? "") : `not runnable: ${out.text}` };
}

/** Reports presence only: a secret's value never reaches the output. */
function present(name: string, value: string | undefined): DoctorCheck {
  const ok = value !== undefined && value.trim() !== "";
  return { name, ok, detail: ok ? "present" : "absent" };
}

async function checkPrivateKey(env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  const name = "private key";
  if (env.PRIVATE_KEY && env.PRIVATE_KEY.trim() !== "") return { name, ok: true, detail: "present (PRIVATE_KEY)" };
  if (!env.PRIVATE_KEY_PATH) return { name, ok: false, detail: "absent: set PRIVATE_KEY or PRIVATE_KEY_PATH" };
  try {
    const key = await readFile(env.PRIVATE_KEY_PATH, "utf8");
    return key.trim() === "" ? { name, ok: false, detail: "PRIVATE_KEY_PATH is empty" } : { name, ok: true, detail: "present (PRIVATE_KEY_PATH readable)" };
  } catch (error) {
    return { name, ok: false, detail: `PRIVATE_KEY_PATH not readable (${(error as NodeJS.ErrnoException).code ?? "error"})` };
  }
}

/**
 * The default routes (each role card's `model`, the default reviewers): one whose SDK marks the
 * model deprecated is a warning naming where it is set, its end of life and the replacement.
 */
async function checkModelRoutes(agentsDir: string): Promise<DoctorCheck> {
  const name = "model routes";
  let routes: { where: string; route: string }[];
  try {
    const cards = [...(await loadRoleCards(agentsDir)).values()];
    routes = [
      ...cards.map((card) => ({ where: basename(card.file), route: card.model })),
      ...defaultRepoConfig.review.reviewers.map((route) => ({ where: "default review.reviewers", route })),
    ];
  } catch (error) {
    return { name, ok: false, detail: (error as Error).message };
  }
  const lines = routes.flatMap(({ where, route }) => {
    const deprecation = findDeprecation(route);
    return deprecation ? [`${where}: ${describeDeprecation(deprecation)}`] : [];
  });
  if (lines.length === 0) return { name, ok: true, detail: `${routes.length} default routes, none deprecated` };
  return { name, ok: true, warning: true, detail: `${lines.length} of ${routes.length} default routes use a deprecated model`, lines };
}

async function checkWritable(name: string, dir: string): Promise<DoctorCheck> {
  const probe = join(dir, `.doctor-${process.pid}-${Date.now()}`);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    await writeFile(probe, "ok");
    await rm(probe, { force: true });
    return { name, ok: true, detail: `${dir} is writable` };
  } catch (error) {
    return { name, ok: false, detail: `${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? "error"})` };
  }
}

/** A raw RESP `PING` (after `AUTH` when the URL carries a password): no client library needed. */
async function checkRedis(url: string): Promise<DoctorCheck> {
  const name = "redis";
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { name, ok: false, detail: "REDIS_URL is not a URL" };
  }
  const host = target.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  const port = Number(target.port) || 6379;
  const where = `${host}:${port}`; // never the URL itself: it may hold a password
  const commands: string[][] = [];
  if (target.password) {
    const password = decodeURIComponent(target.password);
    commands.push(target.username ? ["AUTH", decodeURIComponent(target.username), password] : ["AUTH", password]);
  }
  commands.push(["PING"]);
  const wire = commands.map((c) => `*${c.length}\r\n${c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`).join("");
  const reply = await new Promise<string>((done) => {
    const socket: Socket = target.protocol === "rediss:" ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    let text = "";
    const finish = (outcome: string) => {
      socket.destroy();
      done(outcome);
    };
    socket.setTimeout(redisTimeoutMs, () => finish(`no answer within ${redisTimeoutMs} ms`));
    socket.once(target.protocol === "rediss:" ? "secureConnect" : "connect", () => socket.write(wire));
    socket.on("data", (b: Buffer) => {
      text += b.toString("utf8");
      const lines = text.split("\r\n").slice(0, -1); // complete replies only
      const failed = lines.find((l) => l.startsWith("-"));
      if (failed) finish(failed);
      else if (lines.length >= commands.length) finish(lines.at(-1)!);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => finish(`cannot connect (${error.code ?? error.message})`));
    socket.on("close", () => finish(text === "" ? "connection closed without an answer" : text.trim()));
  });
  const ok = reply === "+PONG";
  return { name, ok, detail: ok ? `${where} answers PING` : `${where}: ${reply.replace(/^-/, "")}` };
}

/**
 * Worktrees no live run references (a worktree's label starts with `<issue>-`), and job
 * scratch dirs older than a day. A run.json that cannot be read counts as live: when unsure,
 * nothing is called an orphan.
 */
async function findOrphans(stateDir: string, workDir: string): Promise<string[]> {
  const live = new Set<string>();
  for (const [owner, repo, issue] of (await dirsAtDepth(join(stateDir, "runs"), 3)) as [string, string, string][]) {
    const phase = await readFile(join(stateDir, "runs", owner, repo, issue, "run.json"), "utf8")
      .then((text) => (JSON.parse(text) as { phase?: unknown }).phase)
      .catch(() => undefined);
    if (typeof phase !== "string" || !terminal.has(phase)) live.add(`${owner}/${repo}#${issue}`);
  }
  const orphans: string[] = [];
  for (const [owner, repo, label] of (await dirsAtDepth(join(workDir, "worktrees"), 3)) as [string, string, string][]) {
    const issue = /^(\d+)-/.exec(label)?.[1];
    // The state dir spells names with `_` for anything outside [A-Za-z0-9._-]; worktree names never need it.
    if (issue === undefined || !live.has(`${owner}/${repo}#${issue}`)) orphans.push(join(workDir, "worktrees", owner, repo, label));
  }
  const jobs = join(workDir, "jobs");
  for (const [name] of (await dirsAtDepth(jobs, 1)) as [string][]) {
    const info = await stat(join(jobs, name)).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > staleScratchMs) orphans.push(join(jobs, name));
  }
  return orphans.sort();
}

/** Relative paths (as segments) of the directories exactly `depth` levels under `root`. */
async function dirsAtDepth(root: string, depth: number): Promise<string[][]> {
  if (depth === 0) return [[]];
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const found: string[][] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    for (const rest of await dirsAtDepth(join(root, entry.name), depth - 1)) found.push([entry.name, ...rest]);
  }
  return found;
}

function run(binary: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  return new Promise((done) => {
    execFile(binary, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) done({ ok: false, text: (error as NodeJS.ErrnoException).code === "ENOENT" ? `${binary} not found` : (stderr || error.message).trim() });
      else done({ ok: true, text: stdout.trim() });
    });
  });
}

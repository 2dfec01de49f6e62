/**
 * Crash trials: the real app runs as a child process on the end-to-end scenario, is killed with
 * SIGKILL at a random moment, and is restarted on the same state and work dirs. A trial is ok
 * when the run still ends gated with exactly one branch, one PR, one progress comment and one
 * concluded gate check: nothing lost, nothing done twice.
 */
import { sendDelivery } from "../../src/cli/replay.js";
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { parseRepoConfig } from "../../src/config/repo-config.js";
import { RunSchema, terminalPhases, type Run } from "../../src/domain/index.js";
import { runGit } from "../../src/workspace/git.js";
import { configYaml, goodFarewell, labeledPayload, plan, projectFiles } from "../e2e/scenario.js";
import type { CrashChildSetup } from "./crash-child.js";
import { makeOriginRepo, startGitServer, type GitServer } from "./git-server.js";
import { readFakeGitHubState } from "./github.js";
import { startModelServer, type ModelScript, type ModelServer, type RecordedRequest, type Turn } from "./model-server.js";
import { freePort } from "./port.js";

const owner = "Codertocat";
const repoName = "Hello-World";
const defaultBranch = "master";
const runId = `${owner}/${repoName}#1`;
const webhookSecret = "kit-webhook-secret";
const progressMarker = `<!-- shopfloor:progress:${runId} -->`;
const root = fileURLToPath(new URL("../..", import.meta.url));
const childEntry = fileURLToPath(new URL("./crash-child.ts", import.meta.url));

export interface TrialOutcome {
  trial: number;
  /** Milliseconds after the webhook was sent; Infinity for the clean calibration run. */
  killAtMs: number;
  /** The run's phase on disk when the process died ("none": no run yet). */
  phaseAtKill: string;
  /** Where the delivery stood at the kill: lost (redelivered), pending, or taken. */
  deliveryAtKill: "lost" | "pending" | "taken";
  outcome: "ok" | "problem";
  details: string[];
  /** From the restart to the run finished with nothing pending (for the calibration: from the webhook). */
  recoveryMs: number;
  /** When the run finished before the kill: how long it took from the webhook. */
  runMs?: number;
}

export interface CrashOptions {
  trials: number;
  seed?: number;
  log?: (line: string) => void;
  /**
   * Kill points are uniform in [0, killSpan × typical run time]; default 1.15, so some land after
   * the gate. The typical run time is the median of the clean run and of every trial's run that
   * finished before its kill, so the span follows the machine's load.
   */
  killSpan?: number;
  /** How long a restarted run may take to finish before the trial fails (default 30 s; a clean run takes about 1 s). */
  finishTimeoutMs?: number;
}

/**
 * Measures a clean run, then runs `trials` kill-and-restart trials, one after the other. The
 * calibration run is not counted. `log` gets the seed and calibration, a header, then one row per trial.
 */
export async function crashTrials(opts: CrashOptions): Promise<TrialOutcome[]> {
  const seed = opts.seed ?? Number(process.env.SHOPFLOOR_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const log = opts.log ?? (() => undefined);
  const random = mulberry32(seed);
  const kit = await startKit();
  try {
    const clean = await runTrial(kit, { trial: 0, killAtMs: Number.POSITIVE_INFINITY }, opts);
    if (clean.outcome !== "ok") throw new Error(`the clean run failed, so no crash trial can pass: ${clean.details.join("; ")}`);
    const runs = [clean.recoveryMs];
    const span = () => median(runs) * (opts.killSpan ?? 1.15);
    log(`crash trials: seed ${seed}, clean run ${Math.round(clean.recoveryMs)} ms, kill points uniform in [0, ${Math.round(span())}] ms to start with`);
    log(formatHeader());
    const outcomes: TrialOutcome[] = [];
    for (let trial = 1; trial <= opts.trials; trial++) {
      const killAtMs = Math.round(random() * span());
      const outcome = await runTrial(kit, { trial, killAtMs }, opts);
      if (outcome.runMs !== undefined) runs.push(outcome.runMs);
      outcomes.push(outcome);
      log(formatRow(outcome));
    }
    log(`typical run ${Math.round(median(runs))} ms over ${runs.length} uninterrupted runs; last kill span ${Math.round(span())} ms`);
    return outcomes;
  } finally {
    await kit.close();
  }
}

export function formatHeader(): string {
  return `${"trial".padStart(5)}  ${"kill ms".padStart(7)}  ${"phase at kill".padEnd(13)}  ${"delivery".padEnd(8)}  ${"recovery ms".padStart(11)}  outcome`;
}

export function formatRow(o: TrialOutcome): string {
  const kill = Number.isFinite(o.killAtMs) ? String(o.killAtMs) : "-";
  const detail = o.outcome === "ok" ? "ok" : `PROBLEM: ${o.details.join("; ")}`;
  return `${String(o.trial).padStart(5)}  ${kill.padStart(7)}  ${o.phaseAtKill.padEnd(13)}  ${o.deliveryAtKill.padEnd(8)}  ${String(Math.round(o.recoveryMs)).padStart(11)}  ${detail}`;
}

export function summarize(outcomes: TrialOutcome[]): string {
  const ok = outcomes.filter((o) => o.outcome === "ok").length;
  return `crash trials: ${outcomes.length}, ok: ${ok}, problems: ${outcomes.length - ok}`;
}

export interface Kit {
  models: ModelServer;
  privateKey: string;
  token: string;
  /** The app process for a trial's start: loaded during the previous trial's checks, if there was one. */
  takeChild(): Child;
  /** Start loading the next trial's process now, while the CPU is free. */
  prewarm(): void;
  close(): Promise<void>;
}

export async function startKit(): Promise<Kit> {
  // A killed run repeats model calls, so every turn is a function of the request, never of a count.
  const models = await startModelServer(statelessScript(await scenarioModels(), 100_000));
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  let warm: Child | undefined;
  return {
    models,
    privateKey,
    token: `ghs_${randomBytes(18).toString("hex")}`,
    takeChild() {
      const taken = warm ?? spawnChild();
      warm = undefined;
      return taken;
    },
    prewarm() {
      warm ??= spawnChild();
    },
    async close() {
      await warm?.kill();
      await models.close();
    },
  };
}

/**
 * A trial's world on disk: an origin repo served over git HTTP, empty state and work dirs, and
 * the setup file a crash child (or any start of the app) reads. The caller closes `git`.
 */
export async function prepareTrial(kit: Kit): Promise<{ dir: string; originRoot: string; stateDir: string; setupPath: string; setup: CrashChildSetup; git: GitServer }> {
  const dir = await mkdtemp(join(tmpdir(), "shopfloor-crash-"));
  const originRoot = join(dir, "origin");
  const stateDir = join(dir, "state");
  const setupPath = join(dir, "setup.json");
  await makeOriginRepo(originRoot, owner, repoName, projectFiles, { branch: defaultBranch });
  const git = await startGitServer({ root: originRoot, token: kit.token });
  const appPort = await freePort();
  const host = `127.0.0.1:${git.port}`;
  const setup: CrashChildSetup = {
    apiBase: `http://${host}/api/v3`,
    repo: { owner, name: repoName, defaultBranch },
    token: kit.token,
    statePath: join(dir, "github.json"),
    permissions: { Codertocat: "write" },
    configYaml,
    appPort,
    modelPort: Number(new URL(kit.models.url).port),
    env: {
      APP_ID: "1234",
      PRIVATE_KEY: kit.privateKey,
      WEBHOOK_SECRET: webhookSecret,
      GHE_HOST: host,
      GHE_PROTOCOL: "http",
      PORT: String(appPort),
      HOST: "127.0.0.1",
      LOG_LEVEL: process.env.KIT_LOG_LEVEL ?? "warn",
      LOG_FORMAT: "json",
      SHOPFLOOR_STATE_DIR: stateDir,
      SHOPFLOOR_WORK_DIR: join(dir, "work"),
      ANTHROPIC_BASE_URL: kit.models.url,
      ANTHROPIC_API_KEY: "sk-ant-kit-key-never-leaks",
      OPENAI_BASE_URL: `${kit.models.url}/v1`,
      OPENAI_API_KEY: "sk-openai-kit-key-never-leaks",
      SHOPFLOOR_COMMAND_TIMEOUT_MS: "60000",
    },
  };
  await writeFile(setupPath, JSON.stringify(setup));
  return { dir, originRoot, stateDir, setupPath, setup, git };
}

/** One trial: start, deliver, kill at `killAtMs` (never, for the calibration), restart, wait, check. */
async function runTrial(kit: Kit, t: { trial: number; killAtMs: number }, opts: CrashOptions): Promise<TrialOutcome> {
  const { dir, originRoot, stateDir, setupPath, setup, git } = await prepareTrial(kit);
  const appPort = setup.appPort;
  const childLog = createWriteStream(join(dir, "child.log"));
  const deliveryId = `crash-${t.trial}-${randomBytes(4).toString("hex")}`;
  const deliver = () => deliverWebhook(appPort, deliveryId, labeledPayload());
  const finishTimeoutMs = opts.finishTimeoutMs ?? 30_000;
  const children: Child[] = [];
  const problems: string[] = [];
  let phaseAtKill = "none";
  let deliveryAtKill: TrialOutcome["deliveryAtKill"] = "lost";
  let recoveryMs = 0;
  let runMs: number | undefined;
  try {
    // The restart's process loads its modules while the first one runs, and starts its app only
    // after the kill. The calibration run loads one too, so it shares the CPU as a trial does.
    const first = kit.takeChild();
    const second = spawnChild();
    children.push(first, second);
    first.start(setupPath, childLog);
    await readyWithin(first, finishTimeoutMs, stateDir);
    const sentAt = performance.now();
    const firstDelivery = deliver();
    if (!Number.isFinite(t.killAtMs)) {
      const status = await firstDelivery;
      if (status !== 200) problems.push(`the delivery was answered ${status}`);
      await waitForFinish(stateDir, finishTimeoutMs);
      recoveryMs = performance.now() - sentAt;
    } else {
      runMs = await watchUntil(stateDir, sentAt, sentAt + t.killAtMs);
      await first.kill();
      const acknowledged = (await firstDelivery) === 200;
      phaseAtKill = (await readRun(stateDir))?.phase ?? "none";
      deliveryAtKill = deliveryState(stateDir, deliveryId);
      if (acknowledged && deliveryAtKill === "lost" && phaseAtKill === "none") {
        problems.push("the delivery was acknowledged with 200 but neither persisted nor turned into a run");
      }
      const restartedAt = performance.now();
      second.start(setupPath, childLog);
      await readyWithin(second, finishTimeoutMs, stateDir);
      // GitHub does not retry a failed delivery; a person (or a reconciler) redelivers it with the same id.
      if (!acknowledged) {
        const status = await deliver();
        if (status !== 200) problems.push(`the redelivery was answered ${status}`);
      }
      await waitForFinish(stateDir, finishTimeoutMs);
      recoveryMs = performance.now() - restartedAt;
    }
    kit.prewarm();
    // Anything still in flight after the run says it is finished would show up as a duplicate.
    await new Promise((r) => setTimeout(r, 100));
    for (const c of children) await c.kill();
    problems.push(...(await checkEnd(stateDir, originRoot, setup.statePath)));
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    for (const c of children) await c.kill();
    await git.close();
    await new Promise((r) => childLog.end(r));
    if (problems.length === 0) await rm(dir, { recursive: true, force: true });
    else problems.push(...(await childTrouble(join(dir, "child.log"))), `kept ${dir}`);
  }
  return {
    trial: t.trial,
    killAtMs: t.killAtMs,
    phaseAtKill,
    deliveryAtKill,
    outcome: problems.length === 0 ? "ok" : "problem",
    details: problems,
    recoveryMs,
    ...(runMs !== undefined && { runMs }),
  };
}

/** What a person would see on GitHub and on the origin once the run is done. */
async function checkEnd(stateDir: string, originRoot: string, githubState: string): Promise<string[]> {
  const problems: string[] = [];
  const run = await readRun(stateDir);
  if (run?.phase !== "gated") problems.push(`run phase ${run?.phase ?? "none"}, expected gated`);
  const bare = join(originRoot, owner, `${repoName}.git`);
  const refs = (await runGit(["for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/shopfloor/"], { cwd: bare })).stdout
    .split("\n")
    .filter((l) => l.trim() !== "");
  const branches = refs.filter((l) => l.startsWith("shopfloor/1-"));
  if (branches.length !== 1 || refs.length !== 1) problems.push(`branches on origin: ${JSON.stringify(refs)}, expected one shopfloor/1-…`);
  const [branch, tip] = (branches[0] ?? "").split(" ");
  if (branch) {
    const file = await runGit(["show", `${branch}:src/farewell.js`], { cwd: bare }).then((r) => r.stdout, () => undefined);
    if (file !== goodFarewell) problems.push(`${branch} does not hold the generated src/farewell.js`);
  }
  const gh = readFakeGitHubState(githubState);
  if (!gh) return [...problems, "GitHub was never called"];
  if (gh.unexpected.length > 0) problems.push(`unexpected GitHub requests: ${gh.unexpected.join(", ")}`);
  if (gh.pulls.length !== 1) problems.push(`${gh.pulls.length} pull requests, expected 1`);
  const progress = gh.comments.flatMap(([, list]) => list).filter((c) => c.body.includes(progressMarker));
  if (progress.length !== 1) problems.push(`${progress.length} progress comments, expected 1`);
  if (gh.checkRuns.length !== 1) problems.push(`${gh.checkRuns.length} gate check runs, expected 1`);
  const check = gh.checkRuns[0];
  if (check) {
    if (check.status !== "completed" || !check.conclusion) problems.push(`gate check ${check.status}/${check.conclusion}, expected completed with a conclusion`);
    if (check.head_sha !== tip) problems.push(`gate check on ${check.head_sha}, the branch tip is ${tip}`);
    if (run?.headSha !== tip) problems.push(`run.headSha ${run?.headSha} is not the branch tip ${tip}`);
    // The comment ends on the final state: it names the gate's conclusion.
    if (progress[0] && !progress[0].body.includes(`\`${check.conclusion}\``)) problems.push("the progress comment does not show the final gate conclusion");
  }
  if (problems.length > 0) problems.push(`journal tail: ${await journalTail(stateDir)}`);
  return problems;
}

interface Child {
  /** Resolves once the app listens and has resumed its runs; rejects if the process dies first. */
  ready: Promise<void>;
  /** Start the app on `setupPath`, its output going to `log`. */
  start(setupPath: string, log: WriteStream): void;
  kill(): Promise<void>;
}

function spawnChild(): Child {
  const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", childEntry, "--wait"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => proc.once("close", () => resolve()));
  const early: Buffer[] = [];
  let log: WriteStream | undefined;
  let tail = "";
  const write = (chunk: Buffer) => (log ? log.write(chunk) : early.push(chunk));
  const ready = new Promise<void>((resolve, reject) => {
    let buffered = "";
    proc.stdout!.on("data", (chunk: Buffer) => {
      write(chunk);
      buffered = (buffered + chunk.toString("utf8")).slice(-200);
      if (buffered.includes("shopfloor-crash-child ready\n")) resolve();
    });
    proc.stderr!.on("data", (chunk: Buffer) => {
      write(chunk);
      tail = (tail + chunk.toString("utf8")).slice(-2000);
    });
    void exited.then(() => reject(new Error(`the app process exited before it was ready: ${tail.trim() || "(no output)"}`)));
  });
  ready.catch(() => undefined);
  proc.stdin!.on("error", () => undefined);
  return {
    ready,
    start(setupPath, to) {
      log = to;
      for (const chunk of early.splice(0)) to.write(chunk);
      proc.stdin!.write(`${setupPath}\n`);
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** An app that never gets ready (its start hangs on something the kill left behind) fails the trial. */
async function readyWithin(child: Child, timeoutMs: number, stateDir: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
  try {
    if ((await Promise.race([child.ready, late])) === "late") {
      throw new Error(`the app was not ready ${timeoutMs} ms after it started; ${await runLock(stateDir)}journal tail: ${await journalTail(stateDir)}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

export async function deliverWebhook(port: number, deliveryId: string, payload: unknown): Promise<number> {
  try {
    return (await sendDelivery(`http://127.0.0.1:${port}/api/github/webhooks`, webhookSecret, { event: "issues", id: deliveryId, payload })).status;
  } catch {
    return 0; // the connection died with the process
  }
}

function deliveryState(stateDir: string, deliveryId: string): TrialOutcome["deliveryAtKill"] {
  if (existsSync(join(stateDir, "deliveries", "taken", `${deliveryId}.json`))) return "taken";
  if (existsSync(join(stateDir, "deliveries", "pending", `${deliveryId}.json`))) return "pending";
  return "lost";
}

async function readRun(stateDir: string): Promise<Run | undefined> {
  const text = await readFile(join(stateDir, "runs", owner, repoName, "1", "run.json"), "utf8").catch(() => undefined);
  return text ? RunSchema.parse(JSON.parse(text)) : undefined;
}

async function waitForFinish(stateDir: string, timeoutMs: number): Promise<Run> {
  const started = performance.now();
  for (;;) {
    const run = await readRun(stateDir);
    if (run && terminalPhases.includes(run.phase) && run.pending.length === 0) return run;
    if (performance.now() - started > timeoutMs) {
      throw new Error(
        `the run did not finish in ${timeoutMs} ms: phase ${run?.phase ?? "none"}, pending [${run?.pending.map((p) => p.key).join(", ") ?? ""}]; ${await runLock(stateDir)}${run ? "" : await inbox(stateDir)}journal tail: ${await journalTail(stateDir)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Warnings and errors the app logged (pino JSON lines), briefly. */
async function childTrouble(path: string): Promise<string[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; key?: string; err?: { message?: string } };
      if ((entry.level ?? 0) >= 40) lines.push(`app logged: ${entry.msg ?? ""}${entry.key ? ` ${entry.key}` : ""}${entry.err?.message ? `: ${entry.err.message}` : ""}`);
    } catch {
      // not a log line (the ready line)
    }
  }
  return lines.slice(-5);
}

/** What the delivery inbox holds, for a run that never started. */
async function inbox(stateDir: string): Promise<string> {
  const list = async (sub: string) => (await readdir(join(stateDir, "deliveries", sub)).catch(() => [] as string[])).join(", ");
  return `inbox pending [${await list("pending")}] taken [${await list("taken")}]; `;
}

/** A run lock left behind tells whose it is: a pid, or nothing at all. */
async function runLock(stateDir: string): Promise<string> {
  const text = await readFile(join(stateDir, "runs", owner, repoName, "1", "lock"), "utf8").catch(() => undefined);
  if (text === undefined) return "";
  return text.trim() === "" ? "the run's lock file is left EMPTY (no owner pid); " : `the run's lock file names pid ${text.trim()}; `;
}

async function journalTail(stateDir: string, lines = 8): Promise<string> {
  const text = await readFile(join(stateDir, "runs", owner, repoName, "1", "journal.jsonl"), "utf8").catch(() => "");
  return (
    text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .slice(-lines)
      .map((l) => {
        try {
          const e = JSON.parse(l) as { seq: number; event: { type: string; key?: string }; phase: string | null; effects: string[]; note?: string };
          const effects = e.effects.map((k) => k.slice(k.indexOf(":") + 1)).join(",");
          return `#${e.seq} ${e.event.type}${e.event.key ? `(${e.event.key.slice(e.event.key.indexOf(":") + 1)})` : ""} → ${e.phase}${effects ? ` [${effects}]` : ""}${e.note ? ` "${e.note}"` : ""}`;
        } catch {
          return `torn: ${l.slice(0, 80)}`;
        }
      })
      .join(" | ") || "(empty)"
  );
}

/**
 * One turn for any agent, decided by what its `finish` tool asks for, so the same script serves
 * every model route. Planner: look once, then submit the plan. Builder: write the file, then
 * report. Reviewer: approve. A killed run repeats model calls, so a turn depends on the
 * conversation, never on how many calls came before.
 */
function statelessTurn(req: RecordedRequest): Turn {
  const wants = finishFields(req);
  const looked = sawToolResult(req);
  if (wants.includes("subtasks")) {
    return looked
      ? { toolCalls: [{ name: "finish", args: plan }], usage: { input: 1800, output: 300, cached: 1200 } }
      : { toolCalls: [{ name: "list_files", args: {} }], usage: { input: 1200, output: 40 } };
  }
  if (wants.includes("verdict")) {
    const args = { verdict: "approve", summary: "farewell(name) does what the contract says", confidence: 0.9, findings: [], assertionChecks: [] };
    return { toolCalls: [{ name: "finish", args }], usage: { input: 1500, output: 90 } };
  }
  if (looked) {
    const handoff = { completed: ["created src/farewell.js"], remaining: [], commands: [], issues: [], followedProcedure: true };
    return { toolCalls: [{ name: "finish", args: { status: "ok", confidence: 0.9, summary: "Implemented farewell", handoff } }], usage: { input: 1300, output: 80 } };
  }
  return { toolCalls: [{ name: "write_file", args: { path: "src/farewell.js", content: goodFarewell } }], usage: { input: 900, output: 60 } };
}

/**
 * Every model the scenario can reach: the routes its config names or defaults to (reviewers
 * included) and the role cards' defaults. Read, not listed, so new defaults need no edit here.
 */
export async function scenarioModels(): Promise<string[]> {
  const parsed = parseRepoConfig(parseYaml(configYaml));
  const texts = [JSON.stringify(parsed.ok ? parsed.config : {})];
  const agents = join(root, "agents");
  for (const name of await readdir(agents)) if (name.endsWith(".md")) texts.push(await readFile(join(agents, name), "utf8"));
  const models = new Set<string>();
  for (const text of texts) for (const m of text.matchAll(/\b(?:anthropic|openai|openai-responses)\/([A-Za-z0-9._-]+)/g)) models.add(m[1]!);
  return [...models];
}

export function statelessScript(models: string[], copies: number): ModelScript {
  return Object.fromEntries(models.map((model) => [model, Array.from({ length: copies }, () => statelessTurn)]));
}

/** The top-level fields of the `finish` tool's schema, on the Anthropic and both OpenAI wires. */
function finishFields(req: RecordedRequest): string[] {
  const tools = (req.body.tools ?? []) as { name?: string; input_schema?: unknown; parameters?: unknown; function?: { name?: string; parameters?: unknown } }[];
  const finish = tools.find((t) => (t.name ?? t.function?.name) === "finish");
  const schema = (finish?.input_schema ?? finish?.parameters ?? finish?.function?.parameters ?? {}) as { properties?: Record<string, unknown> };
  return Object.keys(schema.properties ?? {});
}

/** Whether a tool result went back to the model yet (Anthropic `tool_result` blocks, OpenAI `tool` messages or `function_call_output` items). */
function sawToolResult(req: RecordedRequest): boolean {
  const messages = (req.body.messages ?? req.body.input ?? []) as { role?: string; type?: string; content?: unknown }[];
  return messages.some(
    (m) =>
      m.role === "tool" ||
      m.type === "function_call_output" ||
      (Array.isArray(m.content) && m.content.some((c: { type?: string }) => c.type === "tool_result")),
  );
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits until `killAt`, watching the run: returns how long it took from `sentAt` if it finished before. */
async function watchUntil(stateDir: string, sentAt: number, killAt: number): Promise<number | undefined> {
  let finished: number | undefined;
  for (;;) {
    const left = killAt - performance.now();
    if (left <= 0) return finished;
    await new Promise((r) => setTimeout(r, Math.min(left, 25)));
    if (finished !== undefined) continue;
    const run = await readRun(stateDir).catch(() => undefined);
    if (run && terminalPhases.includes(run.phase) && run.pending.length === 0) finished = performance.now() - sentAt;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}


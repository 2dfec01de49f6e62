import { mkdir, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { redact, type Failure, type TraceEntry, type Usage, type WorkerReport } from "../../domain/index.js";
import { priceUsage } from "../../models/prices.js";
import type { AgentOutcome } from "../agent-loop.js";
import type { CliExit } from "./process.js";
import { clip, reportFromText, reportJsonSchema } from "./report.js";
import { PLACEHOLDER_KEY, runInSandbox, stoppedFailure, writesWorktree, type ModelAccess } from "./sandboxed.js";
import type { CliAgentOptions } from "./types.js";

/**
 * Codex, headless (`codex exec --json`), in the subtask's worktree, inside Shopfloor's sandbox
 * (sandboxed.ts), against Shopfloor's own Responses endpoint. Least privilege: our sandbox
 * (writes only in the worktree and the job's scratch dir, none in the worktree for planner and
 * reviewer; no network but the model endpoint), no secret in any environment, and the repo's
 * AGENTS.md, rules, hooks and the user config are not loaded.
 *
 * Codex's own sandbox cannot start inside ours: its bubblewrap fails to map uid 0 into a new user
 * namespace without CAP_SETFCAP ("bwrap: setting up uid map: Operation not permitted"), and its
 * Landlock fallback refuses to run without bubblewrap. So Codex runs with `danger-full-access`,
 * and ours is the boundary: the same view for the CLI and for every command it starts.
 *
 * Codex has no turn cap flag: the cap is enforced here by counting tool calls in the event
 * stream and stopping the process at the cap. A model response can hold several tool calls, so
 * this cap is a little stricter than the built-in loop's count of model calls.
 */

const PROVIDER = "openai";
/** The variable Codex reads the key from (named by `env_key`); it holds only the placeholder. */
const KEY_VAR = "SHOPFLOOR_CODEX_KEY";
const TOOL_ITEMS = new Set(["command_execution", "file_change", "mcp_tool_call", "web_search"]);
/** Tools Codex would otherwise offer that a headless, single-agent job has no use for. */
const DISABLED_FEATURES = ["multi_agent", "goals", "hooks", "image_generation", "plugins", "apps", "unbounded_connection_retries"];

export async function runCodex(opts: CliAgentOptions): Promise<AgentOutcome<WorkerReport>> {
  const none = { usage: [], trace: [], turns: 0 };
  await mkdir(path.join(opts.jobDir, "tmp"), { recursive: true });
  await mkdir(codexHome(opts), { recursive: true });
  try {
    if (await underTmp(opts.jobDir)) {
      // Codex will not put its helper binaries under /tmp; its own sandbox (the stand-in where
      // Shopfloor runs without bubblewrap) then fails every command, yet Codex exits 0.
      return { ok: false, failure: { class: "permanent", reason: "bug", detail: `jobDir ${opts.jobDir} is under /tmp; Codex's sandbox needs it elsewhere` }, ...none };
    }
    await writeFile(schemaFile(opts), JSON.stringify(reportJsonSchema()));
    const stream = new CodexStream(opts);
    const exit = await runInSandbox(opts, {
      name: "codex",
      pkg: "@openai/codex",
      bin: "codex",
      command: (model) => ({ args: codexArgs(opts, model), env: codexEnv(opts) }),
      auth: { authorization: `Bearer ${opts.endpoint.apiKey}` },
      onLine: (line, stop) => {
        if (stream.read(line) === "cap") stop(`turn cap ${opts.maxTurns}`);
      },
    });
    return stream.outcome(exit);
  } finally {
    await rm(opts.jobDir, { recursive: true, force: true });
  }
}

/** The argv: no secret in it (the key never reaches the CLI at all). */
export function codexArgs(opts: CliAgentOptions, model: ModelAccess): string[] {
  const config: Record<string, string> = {
    model_provider: toml("shopfloor"),
    "model_providers.shopfloor.name": toml("shopfloor"),
    // Codex posts to <base_url>/responses, as an OpenAI client does to its base URL (".../v1"):
    // the sandbox's model port stands in for the whole upstream base, path included.
    "model_providers.shopfloor.base_url": toml(model.url),
    "model_providers.shopfloor.env_key": toml(KEY_VAR),
    "model_providers.shopfloor.wire_api": toml("responses"),
    // Shopfloor's typed retry policy owns retries.
    "model_providers.shopfloor.request_max_retries": "0",
    "model_providers.shopfloor.stream_max_retries": "0",
    approval_policy: toml("never"),
    // Commands get the CLI's environment, which holds nothing secret, so the setup phase's
    // variables (VIRTUAL_ENV, GOPATH…) reach them; Codex's default excludes drop *KEY* and *TOKEN*.
    "shell_environment_policy.inherit": toml("all"),
    // The repo's AGENTS.md comes quoted in `system`, never as instructions.
    project_doc_max_bytes: "0",
    web_search: toml("disabled"),
    // No usage analytics: nothing leaves the sandbox but model calls, and Codex would wait 5 s
    // at exit for the DNS lookup of their endpoint to fail.
    "analytics.enabled": "false",
    developer_instructions: toml(opts.system),
  };
  return [
    "exec",
    "--json",
    "--color", "never",
    "--skip-git-repo-check",
    "--ephemeral",
    "--ignore-user-config",
    "--ignore-rules",
    "--sandbox", sandboxMode(opts, model),
    "-m", opts.model,
    ...Object.entries(config).flatMap(([key, value]) => ["-c", `${key}=${value}`]),
    ...DISABLED_FEATURES.flatMap((f) => ["--disable", f]),
    "--output-schema", schemaFile(opts),
    "--",
    opts.task,
  ];
}

/**
 * Inside our sandbox Codex's own cannot start (see the top of this file), and ours already
 * decides what the CLI and its commands can see, write and reach. Only where the operator runs
 * without bubblewrap does Codex's own sandbox stand in for it.
 */
function sandboxMode(opts: CliAgentOptions, model: ModelAccess): string {
  if (model.sandboxed) return "danger-full-access";
  return writesWorktree(opts.role) ? "workspace-write" : "read-only";
}

/** A fresh environment, nothing of the runner's (sandboxed.ts adds PATH); the key a placeholder. */
export function codexEnv(opts: CliAgentOptions): Record<string, string> {
  return {
    HOME: opts.jobDir,
    TMPDIR: path.join(opts.jobDir, "tmp"),
    CODEX_HOME: codexHome(opts),
    [KEY_VAR]: PLACEHOLDER_KEY,
  };
}

function codexHome(opts: Pick<CliAgentOptions, "jobDir">): string {
  return path.join(opts.jobDir, "codex-home");
}

function schemaFile(opts: Pick<CliAgentOptions, "jobDir">): string {
  return path.join(opts.jobDir, "report.schema.json");
}

/** A TOML basic string: JSON's string escapes are all valid TOML escapes. */
function toml(value: string): string {
  return JSON.stringify(value);
}

async function underTmp(dir: string): Promise<boolean> {
  const real = await realpath(dir);
  const tmps = new Set(["/tmp", await realpath(tmpdir()).catch(() => tmpdir())]);
  return [...tmps].some((t) => real === t || real.startsWith(`${t}/`));
}

interface CodexItem {
  id?: string;
  type?: string;
  text?: string;
  message?: string;
  command?: string;
  exit_code?: number | null;
  status?: string;
  changes?: { path?: string; kind?: string }[];
  server?: string;
  tool?: string;
  query?: string;
}

interface CodexEvent {
  type?: string;
  item?: CodexItem;
  usage?: { input_tokens?: number; cached_input_tokens?: number; output_tokens?: number };
  error?: { message?: string };
  message?: string;
}

/** Reads the JSONL events as they come and decides the outcome at the end. */
class CodexStream {
  private readonly trace: TraceEntry[] = [];
  private readonly usage: Usage[] = [];
  private readonly started = new Set<string>();
  private toolCalls = 0;
  private finalMessage: string | undefined;
  private turnFailed: string | undefined;
  private turnCompleted = false;

  constructor(private readonly opts: CliAgentOptions) {}

  /** A step is a tool call or the final answer: the closest the events come to model turns. */
  private get turns(): number {
    return this.toolCalls + (this.finalMessage !== undefined ? 1 : 0);
  }

  read(line: string): "cap" | undefined {
    let event: CodexEvent;
    try {
      event = JSON.parse(line) as CodexEvent;
    } catch {
      return undefined;
    }
    const item = event.item;
    if (event.type === "item.started" && item) return this.toolStarted(item);
    if (event.type === "item.completed" && item) return this.itemCompleted(item);
    if (event.type === "turn.completed") {
      this.turnCompleted = true;
      const u = event.usage ?? {};
      const tokens = { inputTokens: u.input_tokens ?? 0, outputTokens: u.output_tokens ?? 0, cachedTokens: u.cached_input_tokens ?? 0 };
      this.usage.push({ provider: PROVIDER, model: this.opts.model, ...tokens, costUsd: priceUsage(PROVIDER, this.opts.model, tokens) });
    } else if (event.type === "turn.failed") {
      this.turnFailed = event.error?.message ?? "turn failed";
    }
    return undefined;
  }

  private toolStarted(item: CodexItem): "cap" | undefined {
    if (!TOOL_ITEMS.has(item.type ?? "") || !item.id || this.started.has(item.id)) return undefined;
    this.started.add(item.id);
    this.toolCalls += 1;
    this.opts.onProgress?.({ turn: this.turns, toolCalls: this.toolCalls });
    // The model used its last turn on a tool call: no turn is left for the report.
    return this.toolCalls >= this.opts.maxTurns ? "cap" : undefined;
  }

  private itemCompleted(item: CodexItem): "cap" | undefined {
    if (item.type === "agent_message") {
      this.finalMessage = item.text ?? "";
      this.opts.onProgress?.({ turn: this.turns, toolCalls: this.toolCalls });
      return undefined;
    }
    if (!TOOL_ITEMS.has(item.type ?? "")) return undefined;
    // Some items (file changes) may arrive completed without a started event.
    const cap = this.toolStarted(item);
    this.trace.push(traceOf(item, this.turns, this.opts.worktree));
    return cap;
  }

  outcome(exit: CliExit): AgentOutcome<WorkerReport> {
    const base = { usage: this.usage, trace: this.trace, turns: this.turns };
    const failed = (failure: Failure): AgentOutcome<WorkerReport> => ({ ok: false, failure, ...base });
    const stderr = clip(redact(exit.stderrTail, [this.opts.endpoint.apiKey]));

    if (exit.aborted) return failed(stoppedFailure(this.opts.signal, "codex"));
    if (exit.spawnError !== undefined) return failed({ class: "permanent", reason: "bug", detail: `codex did not start: ${exit.spawnError}` });
    if (exit.timedOut) {
      return failed({ class: "transient", reason: "timeout", detail: `codex ran past ${Math.round(this.opts.timeoutMs / 1000)} s and was stopped` });
    }
    if (exit.stopped !== undefined) {
      return failed({ class: "permanent", reason: "invalid_output", detail: `${exit.stopped} reached without a report` });
    }
    if (this.turnFailed !== undefined) return failed(codexFailure(redact(this.turnFailed, [this.opts.endpoint.apiKey])));
    if (this.finalMessage === undefined || !this.turnCompleted) {
      if (exit.exitCode !== 0) {
        const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
        return failed({ class: "transient", reason: "worker_lost", detail: `codex ended by ${how} without a result${stderr ? `: ${stderr}` : ""}` });
      }
      return failed({ class: "permanent", reason: "invalid_output", detail: "codex exited without a final answer" });
    }
    // Exit code 0 says little (a run whose every command failed still exits 0): the report decides.
    const checked = reportFromText(this.finalMessage);
    if (!checked.ok) return failed({ class: "permanent", reason: "invalid_output", detail: `the final answer is not a valid report: ${clip(checked.error)}` });
    return { ok: true, output: checked.report, ...base };
  }
}

function traceOf(item: CodexItem, turn: number, worktree: string): TraceEntry {
  if (item.type === "command_execution") {
    const ok = item.status === "completed" && item.exit_code === 0;
    const command = (item.command ?? "").replace(/^\/bin\/(?:ba)?sh -lc '([\s\S]*)'$/, "$1");
    return { turn, tool: "exec_command", ok, note: clip(ok ? command : `${command}: exit code ${item.exit_code ?? "none"}`) };
  }
  if (item.type === "file_change") {
    const files = (item.changes ?? []).map((c) => `${c.kind ?? "change"} ${path.relative(worktree, c.path ?? "") || c.path}`);
    return { turn, tool: "apply_patch", ok: item.status === "completed", note: clip(files.join(", ")) };
  }
  const subject = item.type === "mcp_tool_call" ? `${item.server ?? ""}.${item.tool ?? ""}` : (item.query ?? "");
  return { turn, tool: item.type ?? "tool", ok: item.status !== "failed", note: clip(subject) };
}

/**
 * Codex reports a failed model call as text only (no status field), so its messages are read
 * here, in one place: rate limits and server trouble are transient, the rest is the request's
 * or the model's fault.
 */
export function codexFailure(message: string): Failure {
  const detail = clip(message);
  if (/\b429\b|too many requests|rate.?limit|quota/i.test(message)) return { class: "transient", reason: "rate_limit", detail };
  if (/\b5\d\d\b|high demand|overloaded|internal server error|server_error|service unavailable|bad gateway/i.test(message)) {
    return { class: "transient", reason: "server_error", detail };
  }
  if (/stream disconnected|connection|timed? ?out|error sending request|reconnect/i.test(message)) {
    return { class: "transient", reason: "network", detail };
  }
  return { class: "permanent", reason: "invalid_output", detail };
}

import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { classifyFailure, redact, type Failure, type TraceEntry, type Usage, type WorkerReport } from "../../domain/index.js";
import { priceUsage } from "../../models/prices.js";
import type { AgentOutcome } from "../agent-loop.js";
import type { CliExit } from "./process.js";
import { checkReport, clip, reportFromText, reportJsonSchema } from "./report.js";
import { PLACEHOLDER_KEY, runInSandbox, stoppedFailure, type ModelAccess } from "./sandboxed.js";
import type { CliAgentOptions } from "./types.js";

/**
 * Claude Code, headless (`claude -p`), in the subtask's worktree, inside Shopfloor's sandbox
 * (sandboxed.ts). Least privilege comes from the command line, not the prompt: `--tools` offers
 * only the role's tools, `dontAsk` denies whatever the allow-list does not name, and file tools
 * outside the worktree are refused by Claude Code itself; the sandbox holds whatever slips past.
 * Repo-local settings, MCP servers, hooks and CLAUDE.md are not loaded: the repo's notes reach
 * the model quoted as data in `system`.
 */

const PROVIDER = "anthropic";
const READ_TOOLS = ["Read", "Glob", "Grep"];

export async function runClaudeCode(opts: CliAgentOptions): Promise<AgentOutcome<WorkerReport>> {
  await mkdir(path.join(opts.jobDir, "tmp"), { recursive: true });
  await mkdir(path.join(opts.jobDir, "config"), { recursive: true });
  try {
    // A file, not argv: the system prompt can be long, and argv is visible to every process.
    await writeFile(systemFile(opts), opts.system, { mode: 0o600 });
    const stream = new ClaudeStream(opts);
    const exit = await runInSandbox(opts, {
      name: "claude",
      pkg: "@anthropic-ai/claude-code",
      bin: "claude",
      command: (model) => ({ args: claudeArgs(opts), env: claudeEnv(opts, model) }),
      // An API key goes in `x-api-key`, as Anthropic's API expects one; no bearer token.
      auth: { "x-api-key": opts.endpoint.apiKey },
      onLine: (line) => stream.read(line),
    });
    return stream.outcome(exit);
  } finally {
    await rm(opts.jobDir, { recursive: true, force: true });
  }
}

/** The role's tools: what is offered (`--tools`) and what runs without asking (`--allowedTools`). */
export function claudeTools(opts: Pick<CliAgentOptions, "role" | "allowedCommands">): { offered: string[]; allowed: string[] } {
  if (opts.role === "planner" || opts.role === "reviewer") return { offered: READ_TOOLS, allowed: [] };
  const commands = opts.allowedCommands ?? [];
  return {
    offered: [...READ_TOOLS, "Write", "Edit", ...(commands.length > 0 ? ["Bash"] : [])],
    // `Edit(./**)` covers Write and Edit, relative to the worktree; reads there need no rule.
    allowed: ["Edit(./**)", ...commands.map((c) => `Bash(${c}:*)`)],
  };
}

/** The argv: no secret in it (the key never reaches the CLI at all). */
export function claudeArgs(opts: CliAgentOptions): string[] {
  const tools = claudeTools(opts);
  return [
    "-p",
    "--output-format", "stream-json",
    "--verbose",
    "--model", opts.model,
    "--max-turns", String(opts.maxTurns),
    // dontAsk: anything the allow-list does not name is denied, never prompted for.
    "--permission-mode", "dontAsk",
    "--permission-prompts", "none",
    "--tools", tools.offered.join(","),
    ...(tools.allowed.length > 0 ? ["--allowedTools", tools.allowed.join(",")] : []),
    "--append-system-prompt-file", systemFile(opts),
    "--json-schema", JSON.stringify(reportJsonSchema()),
    // The repo's .claude/settings*.json, .mcp.json and slash commands are not ours to honour.
    "--setting-sources", "",
    "--strict-mcp-config",
    "--disable-slash-commands",
    "--no-session-persistence",
    // After `--`, a task that starts with "-" stays the prompt, and no list option swallows it.
    "--",
    opts.task,
  ];
}

function systemFile(opts: Pick<CliAgentOptions, "jobDir">): string {
  return path.join(opts.jobDir, "system.md");
}

/**
 * A fresh environment, nothing of the runner's (sandboxed.ts adds PATH): the model endpoint is
 * the sandbox's model port and the key a placeholder, which the host-side proxy replaces.
 */
export function claudeEnv(opts: CliAgentOptions, model: ModelAccess): Record<string, string> {
  return {
    HOME: opts.jobDir,
    TMPDIR: path.join(opts.jobDir, "tmp"),
    CLAUDE_CONFIG_DIR: path.join(opts.jobDir, "config"),
    // Claude Code posts to <base>/v1/messages, as to api.anthropic.com: the proxy keeps the path.
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: PLACEHOLDER_KEY,
    ANTHROPIC_MODEL: opts.model,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    // The repo's CLAUDE.md comes quoted in `system`, never as instructions; no memory across jobs.
    CLAUDE_CODE_DISABLE_CLAUDE_MDS: "1",
    CLAUDE_CODE_DISABLE_AUTO_MEMORY: "1",
    // No CLAUDE_CODE_SUBPROCESS_ENV_SCRUB: it demands Claude Code's own bubblewrap sandbox, which
    // cannot start inside ours as uid 0 without CAP_SETFCAP (every Bash command would fail), and
    // there is nothing left to scrub: the key in this environment is the placeholder.
    // Shopfloor's typed retry policy owns retries.
    CLAUDE_CODE_MAX_RETRIES: "0",
    DISABLE_AUTOUPDATER: "1",
  };
}

interface ResultRecord {
  subtype?: string;
  is_error?: boolean;
  result?: string;
  structured_output?: unknown;
  api_error_status?: number | null;
  terminal_reason?: string;
  errors?: string[];
  modelUsage?: Record<string, { inputTokens?: number; outputTokens?: number; cacheReadInputTokens?: number; cacheCreationInputTokens?: number }>;
}

interface WireUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

/** Reads the stream-json records as they come and decides the outcome at the end. */
class ClaudeStream {
  private readonly trace: TraceEntry[] = [];
  /** Per model response (message id): the last usage seen, for when no result record comes. */
  private readonly messages = new Map<string, { model: string; usage: WireUsage }>();
  private readonly pending = new Map<string, { name: string; input: Record<string, unknown>; turn: number }>();
  private toolCalls = 0;
  private result: ResultRecord | undefined;

  constructor(private readonly opts: CliAgentOptions) {}

  private get turns(): number {
    return this.messages.size;
  }

  read(line: string): void {
    let record: { type?: string; message?: { id?: string; model?: string; content?: unknown; usage?: WireUsage } };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      return; // Not an event (a stray log line): the result record decides, not this.
    }
    if (record.type === "assistant" && record.message) this.assistant(record.message);
    else if (record.type === "user" && record.message) this.toolResults(record.message.content);
    else if (record.type === "result") this.result = record as ResultRecord;
  }

  private assistant(message: { id?: string; model?: string; content?: unknown; usage?: WireUsage }): void {
    const id = message.id ?? `anon-${this.messages.size}`;
    const known = this.messages.get(id);
    this.messages.set(id, { model: message.model ?? this.opts.model, usage: { ...known?.usage, ...message.usage } });
    for (const block of asBlocks(message.content)) {
      if (block.type !== "tool_use" || typeof block.id !== "string") continue;
      this.toolCalls += 1;
      const input = typeof block.input === "object" && block.input !== null ? (block.input as Record<string, unknown>) : {};
      this.pending.set(block.id, { name: String(block.name), input, turn: this.turns });
    }
    this.opts.onProgress?.({ turn: this.turns, toolCalls: this.toolCalls });
  }

  private toolResults(content: unknown): void {
    for (const block of asBlocks(content)) {
      if (block.type !== "tool_result" || typeof block.tool_use_id !== "string") continue;
      const call = this.pending.get(block.tool_use_id);
      if (!call) continue;
      this.pending.delete(block.tool_use_id);
      const ok = block.is_error !== true;
      const subject = [call.input.file_path, call.input.pattern, call.input.command].find((v): v is string => typeof v === "string") ?? "";
      const firstLine = textOf(block.content).split("\n", 1)[0] ?? "";
      this.trace.push({ turn: call.turn, tool: call.name, ok, note: clip(ok ? subject : [subject, firstLine].filter(Boolean).join(": ")) });
    }
  }

  outcome(exit: CliExit): AgentOutcome<WorkerReport> {
    const usage = this.usage();
    const base = { usage, trace: this.trace, turns: this.turns };
    const failed = (failure: Failure): AgentOutcome<WorkerReport> => ({ ok: false, failure, ...base });
    const stderr = clip(redact(exit.stderrTail, [this.opts.endpoint.apiKey]));

    if (exit.aborted) return failed(stoppedFailure(this.opts.signal, "claude"));
    if (exit.spawnError !== undefined) return failed({ class: "permanent", reason: "bug", detail: `claude did not start: ${exit.spawnError}` });
    if (exit.timedOut) {
      return failed({ class: "transient", reason: "timeout", detail: `claude ran past ${Math.round(this.opts.timeoutMs / 1000)} s and was stopped` });
    }
    const r = this.result;
    if (!r) {
      if (exit.exitCode !== 0) {
        // Killed or crashed mid-run: nothing says the work itself is wrong, so it may be retried.
        const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
        return failed({ class: "transient", reason: "worker_lost", detail: `claude ended by ${how} without a result${stderr ? `: ${stderr}` : ""}` });
      }
      return failed({ class: "permanent", reason: "invalid_output", detail: "claude exited without a result" });
    }
    if (r.subtype === "error_max_turns") {
      return failed({ class: "permanent", reason: "invalid_output", detail: `turn cap ${this.opts.maxTurns} reached without a report` });
    }
    if (r.subtype === "error_during_execution") {
      // Claude Code's own crash or abort mid-run: like a lost worker, worth one more attempt.
      return failed({ class: "transient", reason: "worker_lost", detail: `claude failed during execution: ${clip((r.errors ?? []).join("; ") || stderr)}` });
    }
    if (r.subtype !== "success") {
      // error_max_structured_output_retries and any newer error: the model did not deliver.
      return failed({ class: "permanent", reason: "invalid_output", detail: `claude ended with ${r.subtype ?? "no subtype"}: ${clip((r.errors ?? []).join("; "))}` });
    }
    if (r.is_error) {
      const message = r.result ?? "API error";
      if (typeof r.api_error_status === "number") return failed(classifyFailure({ status: r.api_error_status, message }));
      return failed({ class: "transient", reason: "network", detail: clip(message) });
    }
    const checked = r.structured_output !== undefined ? checkReport(r.structured_output) : reportFromText(r.result ?? "");
    if (!checked.ok) {
      const what = r.structured_output !== undefined ? "the structured report is invalid" : "claude ended without the structured report";
      return failed({ class: "permanent", reason: "invalid_output", detail: `${what}: ${clip(checked.error)}` });
    }
    return { ok: true, output: checked.report, ...base };
  }

  /** Per model: the result record's totals, else what the stream showed before it stopped. */
  private usage(): Usage[] {
    const totals = new Map<string, { input: number; output: number; cached: number }>();
    if (this.result?.modelUsage) {
      for (const [model, u] of Object.entries(this.result.modelUsage)) {
        const cached = u.cacheReadInputTokens ?? 0;
        totals.set(model, { input: (u.inputTokens ?? 0) + cached + (u.cacheCreationInputTokens ?? 0), output: u.outputTokens ?? 0, cached });
      }
    } else {
      for (const { model, usage: u } of this.messages.values()) {
        const t = totals.get(model) ?? { input: 0, output: 0, cached: 0 };
        const cached = u.cache_read_input_tokens ?? 0;
        t.input += (u.input_tokens ?? 0) + cached + (u.cache_creation_input_tokens ?? 0);
        t.output += u.output_tokens ?? 0;
        t.cached += cached;
        totals.set(model, t);
      }
    }
    return [...totals].map(([model, t]) => {
      const tokens = { inputTokens: t.input, outputTokens: t.output, cachedTokens: t.cached };
      return { provider: PROVIDER, model, ...tokens, costUsd: priceUsage(PROVIDER, model, tokens) };
    });
  }
}

type Block = { type?: string; id?: unknown; name?: unknown; input?: unknown; tool_use_id?: unknown; is_error?: unknown; content?: unknown };

function asBlocks(content: unknown): Block[] {
  return Array.isArray(content) ? content.filter((b): b is Block => typeof b === "object" && b !== null) : [];
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return asBlocks(content)
    .map((b) => (typeof (b as { text?: unknown }).text === "string" ? (b as { text: string }).text : ""))
    .join("\n");
}

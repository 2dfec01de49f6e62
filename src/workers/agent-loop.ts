import { z } from "zod";
import { classifyFailure, isFailure, sumUsage, type Failure, type TraceEntry, type Usage } from "../domain/index.js";
import type { ChatMessage, ChatModel, ToolCall, ToolDef, ToolResult } from "../models/types.js";
import { FINISH_TOOL, type AgentTool } from "./tools.js";

/**
 * The built-in agent loop: offer tools plus `finish`, run the model's tool calls, and stop when
 * `finish` arrives with arguments that validate. Everything that can go wrong ends as a typed
 * `Failure`; nothing here retries a model call (the orchestrator's retry policy owns that).
 */

/** After each turn: how far the agent is, and what it has spent. */
export interface AgentProgress {
  turn: number;
  toolCalls: number;
  costUsd?: number;
  tokens?: number;
}

export type AgentOutcome<T> =
  | { ok: true; output: T; usage: Usage[]; trace: TraceEntry[]; turns: number }
  | { ok: false; failure: Failure; usage: Usage[]; trace: TraceEntry[]; turns: number };

export interface AgentOptions<T> {
  model: ChatModel;
  system: string;
  task: string;
  tools: AgentTool[];
  finish: { schema: z.ZodType<T>; description: string };
  /** Hard cap on model calls. */
  maxTurns: number;
  /** How many times a malformed `finish` or a turn without a tool call is answered with a correction. */
  maxCorrections?: number;
  /** Output token cap per model call. */
  maxTokens?: number;
  signal?: AbortSignal;
  onProgress?: (p: AgentProgress) => void;
  /** The most this job may spend; the loop stops once a response takes it past either limit. */
  cap?: { usd: number; tokens: number };
}

const DEFAULT_MAX_CORRECTIONS = 2;
/** Enough for a whole file in one write_file call. */
const DEFAULT_MAX_TOKENS = 16_000;
const NOTE_CHARS = 160;

export async function runAgent<T>(opts: AgentOptions<T>): Promise<AgentOutcome<T>> {
  const maxCorrections = opts.maxCorrections ?? DEFAULT_MAX_CORRECTIONS;
  const byName = new Map(opts.tools.map((t) => [t.def.name, t]));
  const defs: ToolDef[] = [...opts.tools.map((t) => t.def), finishDef(opts.finish)];
  const messages: ChatMessage[] = [{ role: "user", text: opts.task }];
  const usage: Usage[] = [];
  const trace: TraceEntry[] = [];
  let turns = 0;
  let toolCalls = 0;
  let corrections = 0;
  const end = (failure: Failure): AgentOutcome<T> => ({ ok: false, failure, usage, trace, turns });

  while (turns < opts.maxTurns) {
    if (opts.signal?.aborted) return end(abortFailure(opts.signal));
    turns += 1;
    const turn = turns;
    let response;
    try {
      response = await opts.model.complete({
        system: opts.system,
        messages,
        tools: defs,
        maxTokens: outputAllowance(opts, usage),
        ...(opts.signal && { signal: opts.signal }),
      });
    } catch (error) {
      return end(opts.signal?.aborted ? abortFailure(opts.signal) : classifyFailure(error));
    }
    usage.push(response.usage);
    messages.push({ role: "assistant", text: response.text, toolCalls: response.toolCalls });
    const spent = sumUsage(usage);
    if (opts.cap && (spent.costUsd > opts.cap.usd || spent.tokens > opts.cap.tokens)) {
      return end({
        class: "permanent",
        reason: "budget_exhausted",
        detail: `the job spent $${spent.costUsd.toFixed(4)} and ${spent.tokens} tokens, past its cap of $${opts.cap.usd.toFixed(4)} and ${opts.cap.tokens} tokens`,
      });
    }

    if (response.toolCalls.length === 0) {
      corrections += 1;
      trace.push({ turn, tool: "(none)", ok: false, note: "answered without a tool call" });
      if (corrections > maxCorrections) {
        return end({ class: "permanent", reason: "invalid_output", detail: "the model kept answering without calling finish" });
      }
      messages.push({
        role: "user",
        text: `Continue with the tools. When the work is done, call \`${FINISH_TOOL}\` with your result; a reply without a tool call does not end the task.`,
      });
      opts.onProgress?.({ turn, toolCalls, ...spentSoFar(usage) });
      continue;
    }

    const results: ToolResult[] = [];
    for (const call of response.toolCalls) {
      toolCalls += 1;
      if (call.name === FINISH_TOOL) {
        const checked = checkFinish(call, opts.finish.schema);
        trace.push({ turn, tool: FINISH_TOOL, ok: checked.ok, note: checked.ok ? "finished" : clip(checked.error) });
        if (checked.ok) {
          opts.onProgress?.({ turn, toolCalls, ...spentSoFar(usage) });
          return { ok: true, output: checked.output, usage, trace, turns };
        }
        corrections += 1;
        if (corrections > maxCorrections) {
          return end({ class: "permanent", reason: "invalid_output", detail: `finish arguments invalid: ${checked.error}` });
        }
        results.push({
          callId: call.id,
          name: call.name,
          content: `The ${FINISH_TOOL} arguments are invalid; fix them and call ${FINISH_TOOL} again.\n${checked.error}`,
          isError: true,
        });
        continue;
      }
      const result = await runTool(byName.get(call.name), call, [...byName.keys(), FINISH_TOOL]);
      trace.push({ turn, tool: call.name, ok: !result.isError, note: noteFor(call, result) });
      results.push({ callId: call.id, name: call.name, ...result });
    }
    messages.push({ role: "tool", results });
    opts.onProgress?.({ turn, toolCalls, ...spentSoFar(usage) });
  }
  return end({ class: "permanent", reason: "invalid_output", detail: `turn cap ${opts.maxTurns} reached without finish` });
}

/** The finish tool's definition: its schema is the output schema, in a shape providers accept. */
export function finishDef(finish: { schema: z.ZodType; description: string }): ToolDef {
  // "input" so fields with defaults are optional for the model; `$schema` upsets some providers.
  const { $schema: _ignored, ...inputSchema } = z.toJSONSchema(finish.schema, { io: "input", unrepresentable: "any" });
  return { name: FINISH_TOOL, description: finish.description, inputSchema };
}

function checkFinish<T>(call: ToolCall, schema: z.ZodType<T>): { ok: true; output: T } | { ok: false; error: string } {
  if (call.args === undefined) {
    return { ok: false, error: `the arguments were not valid JSON: ${call.raw.slice(0, 200)}` };
  }
  const parsed = schema.safeParse(call.args);
  return parsed.success ? { ok: true, output: parsed.data } : { ok: false, error: z.prettifyError(parsed.error) };
}

async function runTool(
  tool: AgentTool | undefined,
  call: ToolCall,
  available: string[],
): Promise<{ content: string; isError: boolean }> {
  if (!tool) return { content: `unknown tool "${call.name}"; available tools: ${available.join(", ")}`, isError: true };
  if (call.args === undefined) return { content: `the arguments were not valid JSON: ${call.raw.slice(0, 200)}`, isError: true };
  try {
    return await tool.execute(call.args);
  } catch (error) {
    // Tools report expected problems as results; a throw is a bug, shown to the model all the same.
    return { content: `${call.name} failed: ${(error as Error).message ?? String(error)}`, isError: true };
  }
}

/** A short line for the decision trace: what was touched and, on error, why it failed. */
function noteFor(call: ToolCall, result: { content: string; isError: boolean }): string {
  const args = (call.args ?? {}) as Record<string, unknown>;
  const subject = [args.path, args.pattern, args.command].find((v): v is string => typeof v === "string") ?? "";
  const firstLine = result.content.split("\n", 1)[0] ?? "";
  return clip(result.isError ? [subject, firstLine].filter(Boolean).join(": ") : subject);
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > NOTE_CHARS ? `${oneLine.slice(0, NOTE_CHARS - 1)}…` : oneLine;
}

function abortFailure(signal: AbortSignal): Failure {
  const reason: unknown = signal.reason;
  if (isFailure(reason)) return reason;
  const detail = reason instanceof Error ? reason.message : typeof reason === "string" ? reason : "aborted";
  return { class: "transient", reason: "timeout", detail: `agent stopped: ${detail}` };
}

/** No answer may take a job past its token cap on output alone. */
/** What a turn's progress says of the spend so far. */
function spentSoFar(usage: readonly Usage[]): { costUsd: number; tokens: number } {
  const { costUsd, tokens } = sumUsage(usage);
  return { costUsd, tokens };
}

function outputAllowance(opts: { maxTokens?: number; cap?: { tokens: number } }, usage: readonly Usage[]): number {
  const wanted = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  if (!opts.cap) return wanted;
  return Math.max(1, Math.min(wanted, opts.cap.tokens - sumUsage(usage).tokens));
}

/** What a scripted answer says, independent of the wire format that carries it. */

export interface ScriptedToolCall {
  name: string;
  /** Sent as JSON; a string is sent verbatim, so a test can script arguments that are not JSON. */
  args: unknown;
  /** Defaults to a deterministic id per request and position. */
  id?: string;
}

export interface ScriptedUsage {
  /** All input tokens, cached ones included. Default 100. */
  input?: number;
  /** Default 20. */
  output?: number;
  /** Input tokens read from the prompt cache. Default 0. */
  cached?: number;
}

export interface ReplyTurn {
  text?: string;
  toolCalls?: ScriptedToolCall[];
  usage?: ScriptedUsage;
  /** Ends the turn as cut off by the output limit (finish_reason "length", stop_reason "max_tokens"). */
  truncated?: boolean;
  /** Answer only after this long: a model that thinks, so a test (or a person) can watch a run working. */
  delayMs?: number;
}

/** One server-sent event; `data` is JSON-encoded unless it is a string. */
export interface Sse {
  event?: string;
  data: unknown;
}

export function usageOf(turn: ReplyTurn): Required<ScriptedUsage> {
  return { input: turn.usage?.input ?? 100, output: turn.usage?.output ?? 20, cached: turn.usage?.cached ?? 0 };
}

export function argsText(call: ScriptedToolCall): string {
  return typeof call.args === "string" ? call.args : JSON.stringify(call.args ?? {});
}

/** Splits text into up to three pieces, as a streaming API delivers it in several deltas. */
export function pieces(text: string): string[] {
  if (text.length < 2) return [text];
  const size = Math.ceil(text.length / 3);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

export const CREATED = 1_700_000_000;

/** Anthropic Messages on the wire: `POST /v1/messages` (also `?beta=true`), plain and streamed. */
import { argsText, pieces, usageOf, type ReplyTurn, type Sse } from "./reply.js";

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

export function anthropicError(status: number, message: string): unknown {
  return { type: "error", error: { type: ERROR_TYPES[status] ?? "api_error", message } };
}

function stopReason(turn: ReplyTurn): string {
  return turn.truncated ? "max_tokens" : turn.toolCalls?.length ? "tool_use" : "end_turn";
}

function usage(turn: ReplyTurn, outputTokens: number): Record<string, unknown> {
  const u = usageOf(turn);
  return {
    input_tokens: u.input - u.cached,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: u.cached,
    output_tokens: outputTokens,
    service_tier: "standard",
  };
}

type Block = { type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: unknown; json: string };

function blocks(turn: ReplyTurn, id: string): Block[] {
  const out: Block[] = [];
  if (turn.text !== undefined) out.push({ type: "text", text: turn.text });
  (turn.toolCalls ?? []).forEach((c, i) => {
    const json = argsText(c);
    out.push({ type: "tool_use", id: c.id ?? `toolu_${id}_${i}`, name: c.name, input: parseOrEmpty(json), json });
  });
  return out;
}

/** Anthropic always sends an object; a scripted non-JSON string only reaches the wire when streamed. */
function parseOrEmpty(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return {};
  }
}

export function anthropicMessage(turn: ReplyTurn, model: string, id: string, done: boolean): Record<string, unknown> {
  return {
    id: `msg_${id}`,
    type: "message",
    role: "assistant",
    model,
    content: done ? blocks(turn, id).map((b) => (b.type === "tool_use" ? { type: b.type, id: b.id, name: b.name, input: b.input } : b)) : [],
    stop_reason: done ? stopReason(turn) : null,
    stop_sequence: null,
    usage: usage(turn, done ? usageOf(turn).output : 1),
  };
}

/** message_start, then per block content_block_start/delta…/stop, message_delta, message_stop. */
export function anthropicStream(turn: ReplyTurn, model: string, id: string): Sse[] {
  const events: Sse[] = [];
  const emit = (type: string, fields: Record<string, unknown>): void => {
    events.push({ event: type, data: { type, ...fields } });
  };
  emit("message_start", { message: anthropicMessage(turn, model, id, false) });
  emit("ping", {});
  blocks(turn, id).forEach((block, index) => {
    if (block.type === "text") {
      emit("content_block_start", { index, content_block: { type: "text", text: "" } });
      for (const text of pieces(block.text)) if (text) emit("content_block_delta", { index, delta: { type: "text_delta", text } });
    } else {
      emit("content_block_start", { index, content_block: { type: block.type, id: block.id, name: block.name, input: {} } });
      for (const partial_json of pieces(block.json)) emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } });
    }
    emit("content_block_stop", { index });
  });
  emit("message_delta", {
    delta: { stop_reason: stopReason(turn), stop_sequence: null },
    usage: { output_tokens: usageOf(turn).output },
  });
  emit("message_stop", {});
  return events;
}

/** The OpenAI Responses API on the wire: `POST /v1/responses`, plain and streamed. */
import { argsText, CREATED, pieces, usageOf, type ReplyTurn, type Sse } from "./reply.js";

type Item = Record<string, unknown>;

function outputItems(turn: ReplyTurn, id: string): Item[] {
  const items: Item[] = [];
  if (turn.text !== undefined) {
    items.push({
      id: `msg_${id}`,
      type: "message",
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: turn.text, annotations: [], logprobs: [] }],
    });
  }
  (turn.toolCalls ?? []).forEach((c, i) => {
    items.push({
      id: `fc_${id}_${i}`,
      type: "function_call",
      status: "completed",
      call_id: c.id ?? `call_${id}_${i}`,
      name: c.name,
      arguments: argsText(c),
    });
  });
  return items;
}

export function responseObject(
  turn: ReplyTurn,
  model: string,
  id: string,
  status: "in_progress" | "completed",
): Record<string, unknown> {
  const u = usageOf(turn);
  const done = status === "completed";
  const incomplete = done && turn.truncated;
  return {
    id: `resp_${id}`,
    object: "response",
    created_at: CREATED,
    status: incomplete ? "incomplete" : status,
    error: null,
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    instructions: null,
    max_output_tokens: null,
    model,
    output: done ? outputItems(turn, id) : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: 1,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    truncation: "disabled",
    usage: done
      ? {
          input_tokens: u.input,
          input_tokens_details: { cached_tokens: u.cached },
          output_tokens: u.output,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: u.input + u.output,
        }
      : null,
    metadata: {},
  };
}

/** The event sequence the Responses API streams, with `sequence_number` on every event. */
export function responseStream(turn: ReplyTurn, model: string, id: string): Sse[] {
  const events: Sse[] = [];
  const emit = (type: string, fields: Record<string, unknown>): void => {
    events.push({ event: type, data: { type, sequence_number: events.length, ...fields } });
  };
  emit("response.created", { response: responseObject(turn, model, id, "in_progress") });
  emit("response.in_progress", { response: responseObject(turn, model, id, "in_progress") });
  outputItems(turn, id).forEach((item, output_index) => {
    const item_id = item.id;
    if (item.type === "message") {
      const text = turn.text ?? "";
      const part = { type: "output_text", text: "", annotations: [], logprobs: [] };
      emit("response.output_item.added", { output_index, item: { ...item, status: "in_progress", content: [] } });
      emit("response.content_part.added", { item_id, output_index, content_index: 0, part });
      for (const delta of pieces(text)) {
        if (delta) emit("response.output_text.delta", { item_id, output_index, content_index: 0, delta, logprobs: [] });
      }
      emit("response.output_text.done", { item_id, output_index, content_index: 0, text, logprobs: [] });
      emit("response.content_part.done", { item_id, output_index, content_index: 0, part: { ...part, text } });
    } else {
      const args = String(item.arguments);
      emit("response.output_item.added", { output_index, item: { ...item, status: "in_progress", arguments: "" } });
      for (const delta of pieces(args)) {
        if (delta) emit("response.function_call_arguments.delta", { item_id, output_index, delta });
      }
      emit("response.function_call_arguments.done", { item_id, output_index, name: item.name, arguments: args });
    }
    emit("response.output_item.done", { output_index, item });
  });
  const final = responseObject(turn, model, id, "completed");
  emit(final.status === "incomplete" ? "response.incomplete" : "response.completed", { response: final });
  return events;
}

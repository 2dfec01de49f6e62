/** OpenAI chat completions on the wire: `POST /v1/chat/completions`, plain and streamed. */
import { argsText, CREATED, pieces, usageOf, type ReplyTurn, type Sse } from "./reply.js";

export function openAiError(status: number, message: string): unknown {
  const type =
    status === 429 ? "requests" : status === 401 ? "invalid_api_key" : status >= 500 ? "server_error" : "invalid_request_error";
  return { error: { message, type, param: null, code: status === 429 ? "rate_limit_exceeded" : null } };
}

function usage(turn: ReplyTurn): unknown {
  const u = usageOf(turn);
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function finishReason(turn: ReplyTurn): string {
  return turn.truncated ? "length" : turn.toolCalls?.length ? "tool_calls" : "stop";
}

const callId = (id: string, i: number, given?: string): string => given ?? `call_${id}_${i}`;

export function chatCompletion(turn: ReplyTurn, model: string, id: string): unknown {
  const calls = turn.toolCalls ?? [];
  return {
    id: `chatcmpl-${id}`,
    object: "chat.completion",
    created: CREATED,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: turn.text ?? null,
          refusal: null,
          ...(calls.length > 0 && {
            tool_calls: calls.map((c, i) => ({
              id: callId(id, i, c.id),
              type: "function",
              function: { name: c.name, arguments: argsText(c) },
            })),
          }),
        },
        logprobs: null,
        finish_reason: finishReason(turn),
      },
    ],
    usage: usage(turn),
  };
}

/** Chunks as OpenAI streams them: role first, text and each call's arguments in pieces, usage last. */
export function chatCompletionStream(turn: ReplyTurn, model: string, id: string): Sse[] {
  const chunk = (delta: unknown, finish: string | null = null): Sse => ({
    data: {
      id: `chatcmpl-${id}`,
      object: "chat.completion.chunk",
      created: CREATED,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      usage: null,
    },
  });
  const events: Sse[] = [chunk({ role: "assistant", content: "", refusal: null })];
  if (turn.text) for (const piece of pieces(turn.text)) events.push(chunk({ content: piece }));
  (turn.toolCalls ?? []).forEach((c, index) => {
    events.push(
      chunk({ tool_calls: [{ index, id: callId(id, index, c.id), type: "function", function: { name: c.name, arguments: "" } }] }),
    );
    for (const piece of pieces(argsText(c))) events.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  events.push(chunk({}, finishReason(turn)));
  events.push({
    data: { id: `chatcmpl-${id}`, object: "chat.completion.chunk", created: CREATED, model, choices: [], usage: usage(turn) },
  });
  events.push({ data: "[DONE]" });
  return events;
}

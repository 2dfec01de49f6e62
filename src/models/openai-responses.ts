import type {
  FunctionTool,
  Response,
  ResponseCreateParamsStreaming,
  ResponseInputItem,
  ResponseOutputItem,
} from "openai/resources/responses/responses";
import { openAiClient, parseToolArgs, toolCallArguments } from "./openai-chat.js";
import { pricedUsage } from "./prices.js";
import type { ChatMessage, ChatModel, ChatRequest, ChatResponse, ToolCall, ToolDef } from "./types.js";

export interface OpenAiResponsesOptions {
  route: string;
  /** Provider name used for pricing and reporting; "openai" for OpenAI itself. */
  provider: string;
  model: string;
  apiKey: string;
  /** Includes the version path, e.g. "https://api.openai.com/v1". */
  baseURL?: string;
  timeoutMs: number;
}

/**
 * The OpenAI Responses API, streamed. Stateless on purpose (`store: false`): the whole
 * conversation is sent every turn, as for the other providers, so a run resumes anywhere.
 */
export function createOpenAiResponsesModel(options: OpenAiResponsesOptions): ChatModel {
  const client = openAiClient(options);
  return {
    route: options.route,
    provider: options.provider,
    model: options.model,
    async complete(request: ChatRequest): Promise<ChatResponse> {
      const params: ResponseCreateParamsStreaming = {
        model: options.model,
        input: toResponsesInput(request.messages),
        max_output_tokens: request.maxTokens,
        store: false,
        stream: true,
      };
      if (request.system) params.instructions = request.system;
      if (request.tools.length > 0) params.tools = request.tools.map(toFunctionTool);
      const stream = await client.responses.create(params, { signal: request.signal });

      let final: Response | undefined;
      const doneItems: ResponseOutputItem[] = [];
      for await (const event of stream) {
        switch (event.type) {
          case "response.output_item.done":
            doneItems[event.output_index] = event.item;
            break;
          case "response.completed":
          case "response.incomplete":
            final = event.response;
            break;
          case "response.failed":
            throw streamFailure(event.response.error?.code ?? null, event.response.error?.message ?? "response failed");
          case "error":
            throw streamFailure(event.code, event.message);
        }
      }
      if (!final) throw new Error("response stream ended without response.completed");

      // Some compatible servers send the items only as they finish, not again in the final response.
      const items = final.output.length > 0 ? final.output : doneItems.filter(Boolean);
      let text = "";
      const toolCalls: ToolCall[] = [];
      for (const item of items) {
        if (item.type === "message") {
          for (const part of item.content) if (part.type === "output_text") text += part.text;
        } else if (item.type === "function_call") {
          toolCalls.push({ id: item.call_id, name: item.name, args: parseToolArgs(item.arguments), raw: item.arguments });
        }
      }
      const inputTokens = final.usage?.input_tokens ?? 0;
      const outputTokens = final.usage?.output_tokens ?? 0;
      const cachedTokens = final.usage?.input_tokens_details?.cached_tokens ?? 0;
      const truncated = final.status === "incomplete" && final.incomplete_details?.reason === "max_output_tokens";
      return {
        text,
        toolCalls,
        usage: pricedUsage(options.provider, options.model, { inputTokens, outputTokens, cachedTokens }),
        stop: truncated ? "max_tokens" : toolCalls.length > 0 ? "tool_use" : "end",
      };
    },
  };
}

/**
 * A failure reported inside a 200 stream. It carries the HTTP status the same failure has
 * outside a stream, so `classifyFailure` treats both alike.
 */
export class ResponseStreamError extends Error {
  override readonly name = "ResponseStreamError";
  constructor(
    readonly code: string | null,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function streamFailure(code: string | null, message: string): ResponseStreamError {
  const status = code === "rate_limit_exceeded" ? 429 : code === "server_error" || code === null ? 500 : 400;
  return new ResponseStreamError(code, status, `${code ?? "error"}: ${message}`);
}

function toFunctionTool(tool: ToolDef): FunctionTool {
  return { type: "function", name: tool.name, description: tool.description, parameters: tool.inputSchema, strict: false };
}

function toResponsesInput(messages: ChatMessage[]): ResponseInputItem[] {
  const out: ResponseInputItem[] = [];
  for (const m of messages) {
    switch (m.role) {
      case "user":
        out.push({ type: "message", role: "user", content: m.text });
        break;
      case "assistant":
        if (m.text) out.push({ type: "message", role: "assistant", content: m.text });
        for (const c of m.toolCalls) {
          out.push({ type: "function_call", call_id: c.id, name: c.name, arguments: toolCallArguments(c) });
        }
        break;
      case "tool":
        for (const r of m.results) {
          out.push({ type: "function_call_output", call_id: r.callId, output: r.isError ? `Error: ${r.content}` : r.content });
        }
        break;
    }
  }
  return out;
}

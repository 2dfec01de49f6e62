import Anthropic from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  MessageCreateParamsNonStreaming,
  MessageParam,
  Tool,
} from "@anthropic-ai/sdk/resources/messages/messages";
import { parseToolArgs } from "./openai-chat.js";
import { pricedUsage } from "./prices.js";
import type { ChatMessage, ChatModel, ChatRequest, ChatResponse, ToolCall, ToolDef } from "./types.js";

export interface AnthropicOptions {
  route: string;
  model: string;
  apiKey: string;
  /** Without the version path, e.g. "https://api.anthropic.com". */
  baseURL?: string;
  timeoutMs: number;
}

const EPHEMERAL = { type: "ephemeral" } as const;

/**
 * Anthropic Messages, streamed. The system prompt and the tool list are the stable prefix of
 * every turn of an agent, so both carry a cache breakpoint: later turns read them from cache.
 */
export function createAnthropicModel(options: AnthropicOptions): ChatModel {
  const client = new Anthropic({
    // A credential passed here stops the SDK from reading ANTHROPIC_* variables or profiles;
    // baseURL null (not undefined) keeps it from reading ANTHROPIC_BASE_URL.
    apiKey: options.apiKey,
    baseURL: options.baseURL ?? null,
    webhookKey: null,
    // Shopfloor's typed retry policy owns retries.
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
  return {
    route: options.route,
    provider: "anthropic",
    model: options.model,
    async complete(request: ChatRequest): Promise<ChatResponse> {
      const params: MessageCreateParamsNonStreaming = {
        model: options.model,
        max_tokens: request.maxTokens,
        messages: toAnthropicMessages(request.messages),
      };
      if (request.system) params.system = [{ type: "text", text: request.system, cache_control: EPHEMERAL }];
      if (request.tools.length > 0) params.tools = toAnthropicTools(request.tools);
      // The raw event stream, accumulated here: the SDK's MessageStream throws on a tool call
      // whose arguments are not JSON, and the agent loop must see such a call to correct it.
      const stream = await client.messages.create({ ...params, stream: true }, { signal: request.signal });
      let text = "";
      const blocks = new Map<number, { id: string; name: string; json: string }>();
      const u = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
      let stopReason: string | null = null;
      for await (const event of stream) {
        if (event.type === "message_start") {
          u.input = event.message.usage.input_tokens;
          u.output = event.message.usage.output_tokens;
          u.cacheRead = event.message.usage.cache_read_input_tokens ?? 0;
          u.cacheWrite = event.message.usage.cache_creation_input_tokens ?? 0;
        } else if (event.type === "content_block_start" && event.content_block.type === "tool_use") {
          blocks.set(event.index, { id: event.content_block.id, name: event.content_block.name, json: "" });
        } else if (event.type === "content_block_delta") {
          if (event.delta.type === "text_delta") text += event.delta.text;
          else if (event.delta.type === "input_json_delta") blocks.get(event.index)!.json += event.delta.partial_json;
        } else if (event.type === "message_delta") {
          stopReason = event.delta.stop_reason;
          u.output = event.usage.output_tokens ?? u.output;
          if (event.usage.input_tokens != null) u.input = event.usage.input_tokens;
          if (event.usage.cache_read_input_tokens != null) u.cacheRead = event.usage.cache_read_input_tokens;
        }
      }
      const toolCalls: ToolCall[] = [...blocks.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, b]) => ({ id: b.id, name: b.name, args: parseToolArgs(b.json), raw: b.json }));
      const cachedTokens = u.cacheRead;
      const inputTokens = u.input + cachedTokens + u.cacheWrite;
      const outputTokens = u.output;
      return {
        text,
        toolCalls,
        usage: pricedUsage("anthropic", options.model, { inputTokens, outputTokens, cachedTokens }),
        stop: stopReason === "max_tokens" ? "max_tokens" : toolCalls.length > 0 ? "tool_use" : "end",
      };
    },
  };
}

function toAnthropicTools(tools: ToolDef[]): Tool[] {
  return tools.map((t, i) => ({
    name: t.name,
    description: t.description,
    input_schema: { type: "object", ...t.inputSchema },
    ...(i === tools.length - 1 && { cache_control: EPHEMERAL }),
  }));
}

/** Consecutive turns of one role are merged: tool results and a following user note form one user turn. */
function toAnthropicMessages(messages: ChatMessage[]): MessageParam[] {
  const out: { role: "user" | "assistant"; content: ContentBlockParam[] }[] = [];
  const push = (role: "user" | "assistant", blocks: ContentBlockParam[]): void => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    switch (m.role) {
      case "user":
        push("user", [{ type: "text", text: m.text }]);
        break;
      case "assistant":
        push("assistant", [
          // The API rejects empty text blocks.
          ...(m.text ? [{ type: "text" as const, text: m.text }] : []),
          ...m.toolCalls.map((c) => ({
            type: "tool_use" as const,
            id: c.id,
            name: c.name,
            input: c.args ?? parseToolArgs(c.raw) ?? {},
          })),
        ]);
        break;
      case "tool":
        push(
          "user",
          m.results.map((r) => ({ type: "tool_result" as const, tool_use_id: r.callId, content: r.content, is_error: r.isError })),
        );
        break;
    }
  }
  return out;
}

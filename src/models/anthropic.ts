import Anthropic from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  MessageCreateParamsNonStreaming,
  MessageParam,
  Tool,
} from "@anthropic-ai/sdk/resources/messages/messages";
import { parseToolArgs } from "./openai-chat.js";
import { priceUsage } from "./prices.js";
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
      const message = await client.messages.stream(params, { signal: request.signal }).finalMessage();

      let text = "";
      const toolCalls: ToolCall[] = [];
      for (const block of message.content) {
        if (block.type === "text") text += block.text;
        else if (block.type === "tool_use") {
          toolCalls.push({ id: block.id, name: block.name, args: block.input, raw: JSON.stringify(block.input) });
        }
      }
      const u = message.usage;
      const cachedTokens = u.cache_read_input_tokens ?? 0;
      const inputTokens = u.input_tokens + cachedTokens + (u.cache_creation_input_tokens ?? 0);
      const outputTokens = u.output_tokens;
      return {
        text,
        toolCalls,
        usage: {
          provider: "anthropic",
          model: options.model,
          inputTokens,
          outputTokens,
          cachedTokens,
          costUsd: priceUsage("anthropic", options.model, { inputTokens, outputTokens, cachedTokens }),
        },
        stop: message.stop_reason === "max_tokens" ? "max_tokens" : toolCalls.length > 0 ? "tool_use" : "end",
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

import OpenAI from "openai";
import type {
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import { pricedUsage } from "./prices.js";
import type { ChatMessage, ChatModel, ChatRequest, ChatResponse, ToolCall, ToolDef } from "./types.js";

export interface OpenAiChatOptions {
  /** The route this model was created from, e.g. "openai/gpt-5" or "local/qwen". */
  route: string;
  /** Provider name used for pricing and reporting: "openai", or the endpoint's name. */
  provider: string;
  model: string;
  apiKey: string;
  /** Includes the version path, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8000/v1". */
  baseURL?: string;
  timeoutMs: number;
  /**
   * OpenAI's reasoning models only accept `max_completion_tokens`; older OpenAI-compatible
   * servers (llama.cpp, Ollama) only know `max_tokens`.
   */
  maxTokensField?: "max_completion_tokens" | "max_tokens";
}

/** An `openai` client configured only from what Shopfloor passes, with its own retries off. */
export function openAiClient(options: { apiKey: string; baseURL?: string | undefined; timeoutMs: number }): OpenAI {
  return new OpenAI({
    // Everything explicit: the SDK would otherwise read OPENAI_* variables by itself.
    apiKey: options.apiKey,
    baseURL: options.baseURL ?? null,
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    // Shopfloor's typed retry policy owns retries.
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
}

/** Chat completions, streamed, over the official `openai` SDK; works with any OpenAI-compatible server. */
export function createOpenAiChatModel(options: OpenAiChatOptions): ChatModel {
  const client = openAiClient(options);
  const maxTokensField = options.maxTokensField ?? "max_completion_tokens";
  return {
    route: options.route,
    provider: options.provider,
    model: options.model,
    async complete(request: ChatRequest): Promise<ChatResponse> {
      const params: ChatCompletionCreateParamsStreaming = {
        model: options.model,
        messages: toOpenAiMessages(request.system, request.messages),
        stream: true,
        stream_options: { include_usage: true },
        [maxTokensField]: request.maxTokens,
      };
      if (request.tools.length > 0) params.tools = request.tools.map(toOpenAiTool);
      const stream = await client.chat.completions.create(params, { signal: request.signal });

      let text = "";
      let finishReason: string | null = null;
      let usage: OpenAI.CompletionUsage | undefined;
      const calls = new Map<number, { id: string; name: string; raw: string }>();
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          if (choice.index !== 0) continue;
          if (choice.delta?.content) text += choice.delta.content;
          for (const d of choice.delta?.tool_calls ?? []) {
            const call = calls.get(d.index) ?? { id: "", name: "", raw: "" };
            if (d.id) call.id = d.id;
            if (d.function?.name) call.name += d.function.name;
            if (d.function?.arguments) call.raw += d.function.arguments;
            calls.set(d.index, call);
          }
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
      }

      const toolCalls: ToolCall[] = [...calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([index, c]) => ({ id: c.id || `call_${index}`, name: c.name, args: parseToolArgs(c.raw), raw: c.raw }));
      const inputTokens = usage?.prompt_tokens ?? 0;
      const outputTokens = usage?.completion_tokens ?? 0;
      const cachedTokens = usage?.prompt_tokens_details?.cached_tokens ?? 0;
      return {
        text,
        toolCalls,
        usage: pricedUsage(options.provider, options.model, { inputTokens, outputTokens, cachedTokens }),
        stop: finishReason === "length" ? "max_tokens" : toolCalls.length > 0 ? "tool_use" : "end",
      };
    },
  };
}

/** Tool arguments as the model wrote them: parsed JSON, or undefined when they are not JSON. */
export function parseToolArgs(raw: string): unknown {
  if (raw.trim() === "") return {};
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

/** The text to replay for a tool call made earlier, possibly by another provider. */
export function toolCallArguments(call: ToolCall): string {
  if (call.raw) return call.raw;
  return JSON.stringify(call.args ?? {});
}

function toOpenAiTool(tool: ToolDef): ChatCompletionTool {
  return {
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
  };
}

function toOpenAiMessages(system: string, messages: ChatMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (system) out.push({ role: "system", content: system });
  for (const m of messages) {
    switch (m.role) {
      case "user":
        out.push({ role: "user", content: m.text });
        break;
      case "assistant":
        out.push({
          role: "assistant",
          content: m.text || null,
          ...(m.toolCalls.length > 0 && {
            tool_calls: m.toolCalls.map((c) => ({
              id: c.id,
              type: "function" as const,
              function: { name: c.name, arguments: toolCallArguments(c) },
            })),
          }),
        });
        break;
      case "tool":
        for (const r of m.results) {
          // Chat completions have no error flag on a tool result; say it in the content.
          out.push({ role: "tool", tool_call_id: r.callId, content: r.isError ? `Error: ${r.content}` : r.content });
        }
        break;
    }
  }
  return out;
}

import type { Usage } from "../domain/index.js";

/** A tool offered to a model. `inputSchema` is a JSON Schema object. */
export interface ToolDef {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/** A tool call the model made. `args` is the parsed JSON, or undefined when it was not JSON (`raw` keeps the text). */
export interface ToolCall {
  id: string;
  name: string;
  args: unknown;
  raw: string;
}

export interface ToolResult {
  callId: string;
  name: string;
  content: string;
  isError: boolean;
}

/** Provider-neutral conversation; each provider maps it to its own wire format. */
export type ChatMessage =
  | { role: "user"; text: string }
  | { role: "assistant"; text: string; toolCalls: ToolCall[] }
  | { role: "tool"; results: ToolResult[] };

export interface ChatRequest {
  /** Stable prefix (role card, repo context): providers that cache prompts mark it cacheable. */
  system: string;
  messages: ChatMessage[];
  tools: ToolDef[];
  maxTokens: number;
  signal?: AbortSignal;
}

export interface ChatResponse {
  text: string;
  toolCalls: ToolCall[];
  usage: Usage;
  stop: "end" | "tool_use" | "max_tokens";
}

/**
 * One model behind a route. `complete` streams from the provider and returns the whole turn.
 * It throws the SDK's own errors; `classifyFailure` in the domain maps them to a `Failure`.
 */
export interface ChatModel {
  readonly route: string;
  readonly provider: string;
  readonly model: string;
  complete(request: ChatRequest): Promise<ChatResponse>;
}

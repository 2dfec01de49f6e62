export type { ChatMessage, ChatModel, ChatRequest, ChatResponse, ToolCall, ToolDef, ToolResult } from "./types.js";
export { createModel, parseRoute, endpointEnvName, DEFAULT_MODEL_TIMEOUT_MS, type ParsedRoute } from "./route.js";
export { priceUsage, findPrice, PRICE_TABLE_DATE, type ModelPrice } from "./prices.js";
export { createAnthropicModel, type AnthropicOptions } from "./anthropic.js";
export { createOpenAiChatModel, parseToolArgs, type OpenAiChatOptions } from "./openai-chat.js";
export { createOpenAiResponsesModel, ResponseStreamError, type OpenAiResponsesOptions } from "./openai-responses.js";

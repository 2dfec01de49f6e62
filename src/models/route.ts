import { createAnthropicModel } from "./anthropic.js";
import { createOpenAiChatModel } from "./openai-chat.js";
import { createOpenAiResponsesModel } from "./openai-responses.js";
import type { ChatModel } from "./types.js";

/**
 * Ten minutes per model request, as both SDKs default to: a long streamed answer from a large
 * model can take several minutes, and a hung connection must still end. Override with
 * SHOPFLOOR_MODEL_TIMEOUT_MS.
 */
export const DEFAULT_MODEL_TIMEOUT_MS = 600_000;

/** Local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) usually take any key. */
const DEFAULT_ENDPOINT_KEY = "not-needed";

export interface ParsedRoute {
  /** "anthropic", "openai", "openai-responses", or the name of a configured endpoint. */
  provider: string;
  /** Everything after the first '/': model names may contain '/' ("local/Qwen/Qwen3-32B"). */
  model: string;
}

/** "anthropic/claude-sonnet-5-5" → { provider: "anthropic", model: "claude-sonnet-5-5" }. */
export function parseRoute(route: string): ParsedRoute {
  const slash = route.indexOf("/");
  const provider = slash > 0 ? route.slice(0, slash).trim() : "";
  const model = slash > 0 ? route.slice(slash + 1).trim() : "";
  if (!provider || !model) {
    throw new Error(`model route "${route}" is not "<provider>/<model>" (e.g. "anthropic/claude-sonnet-5-5", "openai/gpt-5.4")`);
  }
  return { provider, model };
}

/** The env variable that holds the base URL of a named OpenAI-compatible endpoint. */
export function endpointEnvName(name: string): string {
  return `SHOPFLOOR_ENDPOINT_${name.toUpperCase().replace(/-/g, "_")}`;
}

/**
 * The model behind a route. Credentials and base URLs come only from `env`, passed to the SDKs
 * explicitly. Throws when the route cannot work (unknown endpoint, missing key): a
 * configuration error that a person must fix, named in the message.
 */
export function createModel(route: string, env: NodeJS.ProcessEnv = process.env): ChatModel {
  const { provider, model } = parseRoute(route);
  const timeoutMs = modelTimeoutMs(env);
  switch (provider) {
    case "anthropic":
      return createAnthropicModel({
        route,
        model,
        apiKey: required(env, "ANTHROPIC_API_KEY", route),
        baseURL: env.ANTHROPIC_BASE_URL || undefined,
        timeoutMs,
      });
    case "openai":
    case "openai-responses": {
      const options = { route, provider: "openai", model, apiKey: required(env, "OPENAI_API_KEY", route), baseURL: env.OPENAI_BASE_URL || undefined, timeoutMs };
      return provider === "openai" ? createOpenAiChatModel(options) : createOpenAiResponsesModel(options);
    }
    default: {
      const variable = endpointEnvName(provider);
      const baseURL = env[variable];
      if (!baseURL) {
        throw new Error(
          `model route "${route}" names endpoint "${provider}", which is not configured: set ${variable} to its OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1)`,
        );
      }
      return createOpenAiChatModel({
        route,
        provider,
        model,
        apiKey: env[`${variable}_KEY`] || DEFAULT_ENDPOINT_KEY,
        baseURL,
        timeoutMs,
        maxTokensField: "max_tokens",
      });
    }
  }
}

function required(env: NodeJS.ProcessEnv, variable: string, route: string): string {
  const value = env[variable];
  if (!value) throw new Error(`model route "${route}" needs ${variable} to be set`);
  return value;
}

function modelTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.SHOPFLOOR_MODEL_TIMEOUT_MS;
  if (raw === undefined || raw === "") return DEFAULT_MODEL_TIMEOUT_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new Error(`SHOPFLOOR_MODEL_TIMEOUT_MS must be a positive whole number of milliseconds, got "${raw}"`);
  }
  return ms;
}

export interface Endpoint {
  provider: string;
  model: string;
  baseUrl: string;
  apiKey: string;
}

/**
 * Where a route's requests go and with which key, for CLI agents that take a base URL and a key
 * rather than an SDK client. Same rules as `createModel`: only the operator's settings decide.
 */
export function endpointFor(route: string, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const { provider, model } = parseRoute(route);
  if (provider === "anthropic") {
    return { provider, model, baseUrl: env.ANTHROPIC_BASE_URL || "https://api.anthropic.com", apiKey: required(env, "ANTHROPIC_API_KEY", route) };
  }
  if (provider === "openai" || provider === "openai-responses") {
    return { provider: "openai", model, baseUrl: env.OPENAI_BASE_URL || "https://api.openai.com/v1", apiKey: required(env, "OPENAI_API_KEY", route) };
  }
  const variable = endpointEnvName(provider);
  const baseUrl = env[variable];
  if (!baseUrl) throw new Error(`model route "${route}" names endpoint "${provider}", which is not configured: set ${variable}`);
  return { provider, model, baseUrl, apiKey: env[`${variable}_KEY`] || DEFAULT_ENDPOINT_KEY };
}

import type { Usage } from "../domain/index.js";
/**
 * List prices in USD per million tokens, as published by the vendors' pricing pages; table
 * date 2026-06 (rows for models released later are missing, so those models price as null).
 *
 * - `input` is the price of uncached input tokens, `cachedInput` that of input tokens read from
 *   the provider's prompt cache, `output` that of output tokens (reasoning tokens included).
 * - Anthropic bills cache *writes* at 1.25× input; they are priced here as plain input, so a
 *   turn that fills the cache is slightly underestimated. Long-context surcharges (Sonnet over
 *   200k input tokens, GPT-5.4 over 272k), tiered prices (Claude Haiku 5.5, left out) and batch
 *   discounts are not modelled either.
 * - A model that is not in the table prices as `null`: its tokens still count against a run's
 *   token budget, but not its USD budget. Local endpoints (vLLM, Ollama, llama.cpp) are never
 *   in the table.
 *
 * - Every default route (role cards, `review.reviewers`) and every replacement that
 *   src/models/deprecated.ts recommends has a row, so a default run counts against its USD
 *   budget; rows of deprecated models stay, so past runs still show their spend.
 *
 * Prices change: when a vendor changes one, update the row and the table date.
 */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput: number;
}

export const PRICE_TABLE_DATE = "2026-06";

const anthropic: Record<string, ModelPrice> = {
  "claude-fable-5-1": { input: 10, output: 50, cachedInput: 0.25 },
  "claude-mythos-5-1": { input: 10, output: 50, cachedInput: 0.25 },
  "claude-fable-5": { input: 10, output: 50, cachedInput: 1 },
  "claude-mythos-5": { input: 10, output: 50, cachedInput: 1 },
  "claude-opus-5-5": { input: 4, output: 20, cachedInput: 0.2 },
  "claude-opus-5": { input: 5, output: 25, cachedInput: 0.5 },
  "claude-sonnet-5-5": { input: 2, output: 10, cachedInput: 0.1 },
  "claude-sonnet-5": { input: 2, output: 10, cachedInput: 0.2 },
  "claude-opus-4-8": { input: 5, output: 25, cachedInput: 0.5 },
  "claude-opus-4-7": { input: 5, output: 25, cachedInput: 0.5 },
  "claude-opus-4-6": { input: 5, output: 25, cachedInput: 0.5 },
  "claude-opus-4-5": { input: 5, output: 25, cachedInput: 0.5 },
  "claude-opus-4-1": { input: 15, output: 75, cachedInput: 1.5 },
  "claude-opus-4": { input: 15, output: 75, cachedInput: 1.5 },
  "claude-sonnet-4-6": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-sonnet-4-5": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-sonnet-4": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-haiku-4-5": { input: 1, output: 5, cachedInput: 0.1 },
  "claude-3-7-sonnet": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-3-5-haiku": { input: 0.8, output: 4, cachedInput: 0.08 },
};

const openai: Record<string, ModelPrice> = {
  "gpt-5.5": { input: 5, output: 30, cachedInput: 0.5 },
  "gpt-5.4": { input: 2.5, output: 15, cachedInput: 0.25 },
  "gpt-5.4-mini": { input: 0.75, output: 4.5, cachedInput: 0.075 },
  "gpt-5.4-nano": { input: 0.2, output: 1.25, cachedInput: 0.02 },
  "gpt-5.2": { input: 1.75, output: 14, cachedInput: 0.175 },
  "gpt-5.1": { input: 1.25, output: 10, cachedInput: 0.125 },
  "gpt-5.1-codex": { input: 1.25, output: 10, cachedInput: 0.125 },
  "gpt-5.1-codex-mini": { input: 0.25, output: 2, cachedInput: 0.025 },
  "gpt-5": { input: 1.25, output: 10, cachedInput: 0.125 },
  "gpt-5-codex": { input: 1.25, output: 10, cachedInput: 0.125 },
  "gpt-5-mini": { input: 0.25, output: 2, cachedInput: 0.025 },
  "gpt-5-nano": { input: 0.05, output: 0.4, cachedInput: 0.005 },
  "gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6, cachedInput: 0.1 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4, cachedInput: 0.025 },
  "gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 },
  "gpt-4o-2024-05-13": { input: 5, output: 15, cachedInput: 5 },
  "gpt-4o-mini": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  o3: { input: 2, output: 8, cachedInput: 0.5 },
  "o3-pro": { input: 20, output: 80, cachedInput: 20 },
  "o3-mini": { input: 1.1, output: 4.4, cachedInput: 0.55 },
  "o4-mini": { input: 1.1, output: 4.4, cachedInput: 0.275 },
  o1: { input: 15, output: 60, cachedInput: 7.5 },
};

/** Provider name (the route prefix, or the ChatModel's provider) → its price rows. */
const tables: Record<string, Record<string, ModelPrice>> = {
  anthropic,
  openai,
  "openai-responses": openai,
};

/**
 * A dated snapshot of a listed model: "claude-sonnet-4-5-20250929", "gpt-4.1-2025-04-14".
 * Only a date may follow the listed name, so "gpt-5" never prices "gpt-5-mini-…" or a newer
 * "claude-opus-4-7" as an older model.
 */
const DATED_SUFFIX = /^-(\d{8}|\d{4}-\d{2}-\d{2})$/;

export function findPrice(provider: string, model: string): ModelPrice | null {
  const table = tables[provider];
  if (!table) return null;
  if (Object.hasOwn(table, model)) return table[model] ?? null;
  for (const [name, price] of Object.entries(table)) {
    if (model.startsWith(name) && DATED_SUFFIX.test(model.slice(name.length))) return price;
  }
  return null;
}

/** Cost in USD of one response, or null when the model has no price. `inputTokens` includes `cachedTokens`. */
export function priceUsage(
  provider: string,
  model: string,
  t: { inputTokens: number; outputTokens: number; cachedTokens: number },
): number | null {
  const price = findPrice(provider, model);
  if (!price) return null;
  const cached = Math.min(t.cachedTokens, t.inputTokens);
  const usd = (t.inputTokens - cached) * price.input + cached * price.cachedInput + t.outputTokens * price.output;
  return usd / 1_000_000;
}

/** One response's usage as Shopfloor records it, priced from the table (null when unknown). */
export function pricedUsage(provider: string, model: string, t: { inputTokens: number; outputTokens: number; cachedTokens: number }): Usage {
  return { provider, model, ...t, costUsd: priceUsage(provider, model, t) };
}

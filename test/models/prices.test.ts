import { describe, expect, it } from "vitest";
import { findDeprecation } from "../../src/models/deprecated.js";
import { priceUsage } from "../../src/models/index.js";

const t = { inputTokens: 1_000_000, outputTokens: 100_000, cachedTokens: 0 };

describe("priceUsage", () => {
  it("prices a listed model by exact name", () => {
    // $3 per million input + $15 per million output × 0.1.
    expect(priceUsage("anthropic", "claude-sonnet-4-5", t)).toBeCloseTo(4.5, 10);
    expect(priceUsage("openai", "gpt-5", t)).toBeCloseTo(2.25, 10);
  });

  it("prices dated snapshots like their model", () => {
    expect(priceUsage("anthropic", "claude-sonnet-4-5-20250929", t)).toBeCloseTo(4.5, 10);
    expect(priceUsage("openai", "gpt-4.1-2025-04-14", t)).toBeCloseTo(2.8, 10);
  });

  it("never prices one model as a shorter-named one", () => {
    expect(priceUsage("openai", "gpt-5-mini-2025-08-07", t)).toBeCloseTo(0.45, 10);
    expect(priceUsage("openai", "gpt-5-turbo-preview", t)).toBeNull();
    expect(priceUsage("anthropic", "claude-opus-4-9", t)).toBeNull();
  });

  it("charges cached input at the cache-read price", () => {
    const cached = priceUsage("openai", "gpt-4.1", { inputTokens: 1_000_000, outputTokens: 0, cachedTokens: 750_000 });
    expect(cached).toBeCloseTo(0.25 * 2 + 0.75 * 0.5, 10);
  });

  it("returns null for unknown models and providers: tokens only", () => {
    expect(priceUsage("openai", "my-finetune", t)).toBeNull();
    expect(priceUsage("local", "qwen", t)).toBeNull();
  });

  it("prices the openai-responses provider like openai", () => {
    expect(priceUsage("openai-responses", "o4-mini", t)).toBeCloseTo(1.1 + 0.44, 10);
  });

  it("prices the default routes, and still prices the deprecated models past runs used", () => {
    // claude-sonnet-5-5: $2 in, $10 out; gpt-5.4: $2.50 in, $15 out (× 0.1 million output tokens).
    expect(priceUsage("anthropic", "claude-sonnet-5-5", t)).toBeCloseTo(3, 10);
    expect(priceUsage("openai", "gpt-5.4", t)).toBeCloseTo(4, 10);
    // The old default reaches end of life, but runs made with it must still show their spend.
    expect(findDeprecation("anthropic/claude-sonnet-4-5-20250929")).toBeDefined();
    expect(priceUsage("anthropic", "claude-sonnet-4-5-20250929", t)).toBeCloseTo(4.5, 10);
  });
});

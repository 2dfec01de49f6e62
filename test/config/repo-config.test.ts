import { describe, expect, it } from "vitest";
import { loadRepoConfig, parseRepoConfig, type ConfigReader } from "../../src/config/repo-config.js";
import { deprecationNotice } from "../../src/models/deprecated.js";

const reader = (config: unknown): ConfigReader => ({ config: { get: async () => ({ config }) } });

describe("the config check of .github/shopfloor.yml", () => {
  it("warns about each route the SDK marks deprecated, naming the field, the end of life and the replacement", async () => {
    const file = {
      models: { planner: "anthropic/claude-sonnet-4-5", generator: "openai/gpt-5.4" },
      review: { reviewers: ["openai/gpt-5.4", "anthropic/claude-sonnet-4-5-20250929"] },
    };
    const outcome = await loadRepoConfig(reader(file), "acme", "shop", { deprecationNotice });

    expect(outcome).toMatchObject({ ok: true, config: { models: { planner: "anthropic/claude-sonnet-4-5" } } });
    expect(outcome.ok && outcome.warnings).toEqual([
      "`models.planner`: anthropic/claude-sonnet-4-5 is deprecated (end of life 2026-11-30); use anthropic/claude-sonnet-5-5",
      "`review.reviewers.1`: anthropic/claude-sonnet-4-5-20250929 is deprecated (end of life 2026-11-30); use anthropic/claude-sonnet-5-5",
    ]);
  });

  it("has no warning for current routes or the defaults", () => {
    expect(parseRepoConfig({}, { deprecationNotice })).toMatchObject({ ok: true, warnings: [] });
    expect(parseRepoConfig({ models: { tester: "local/qwen3-coder" } }, { deprecationNotice })).toMatchObject({ ok: true, warnings: [] });
  });

  it("keeps errors and warnings apart: an invalid file reports its errors only", () => {
    const outcome = parseRepoConfig({ models: { planner: "anthropic/claude-sonnet-4-5" }, budget: { usd: "five" } }, { deprecationNotice });
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.errors).toEqual([expect.stringContaining("`budget.usd`")]);
  });
});

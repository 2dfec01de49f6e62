import { describe, expect, it } from "vitest";
import { RepoConfigSchema, type Usage } from "../../src/domain/index.js";
import { checkBudget } from "../../src/orchestrator/budget.js";

const budgetOf = (b: Record<string, number>) => RepoConfigSchema.parse({ budget: b }).budget;
const spend = (costUsd: number | null, tokens = 0): Usage => ({
  provider: "openai",
  model: "gpt-5",
  inputTokens: tokens,
  outputTokens: 0,
  cachedTokens: 0,
  costUsd,
});

describe("checkBudget", () => {
  const budget = budgetOf({ usd: 10, tokens: 1_000_000, pauseAt: 0.85, jobUsd: 2, jobTokens: 200_000 });

  it("lets a job start with the full job cap while well under budget", () => {
    expect(checkBudget(budget, [])).toEqual({ ok: true, cap: { usd: 2, tokens: 200_000 }, spent: { usd: 0, tokens: 0 } });
    const check = checkBudget(budget, [spend(1.5, 100_000), spend(0.5, 50_000)]);
    expect(check).toEqual({ ok: true, cap: { usd: 2, tokens: 200_000 }, spent: { usd: 2, tokens: 150_000 } });
  });

  it("pauses at the threshold in dollars, not only past it", () => {
    const check = checkBudget(budget, [spend(8.5)]);
    expect(check.ok).toBe(false);
    expect(check.why).toBe("spent 85 % of the budget (pause at 85 %)");
    expect(checkBudget(budgetOf({ usd: 100, tokens: 1_000_000, pauseAt: 0.85, jobUsd: 2, jobTokens: 100 }), [spend(84.99)]).ok).toBe(true);
  });

  it("pauses at the threshold in tokens, whichever share is higher", () => {
    const check = checkBudget(budget, [spend(0.01, 850_000)]);
    expect(check.ok).toBe(false);
    expect(check.why).toBe("spent 85 % of the budget (pause at 85 %)");
  });

  it("with pauseAt 1, pauses once the whole budget is spent", () => {
    const all = budgetOf({ usd: 1, tokens: 1000, pauseAt: 1, jobUsd: 0.1, jobTokens: 10 });
    expect(checkBudget(all, [spend(0.5)]).ok).toBe(true);
    expect(checkBudget(all, [spend(1)])).toMatchObject({ ok: false, why: "spent 100 % of the budget (pause at 100 %)" });
  });

  it("shrinks the cap to what is left, and starts no job the rest cannot cover at its full cap", () => {
    const tight = budgetOf({ usd: 1, tokens: 1_000_000, pauseAt: 0.99, jobUsd: 0.5, jobTokens: 200_000 });
    const check = checkBudget(tight, [spend(0.6, 10)]);
    expect(check.ok).toBe(false);
    expect(check.cap.usd).toBeCloseTo(0.4, 10);
    expect(check.cap.tokens).toBe(200_000);
    expect(check.why).toBe("$0.40 and 999990 tokens left cannot cover one job's cap ($0.5, 200000 tokens)");
  });

  it("refuses on tokens alone when the dollars are fine", () => {
    const check = checkBudget(budget, [spend(0, 820_000)]);
    expect(check).toMatchObject({ ok: false, cap: { usd: 2, tokens: 180_000 } });
    expect(check.why).toContain("cannot cover one job's cap");
  });

  it("counts unpriced usage in tokens only: it never costs dollars but still pauses the run", () => {
    const unpriced = [spend(null, 300_000), spend(null, 200_000)];
    expect(checkBudget(budget, unpriced)).toEqual({ ok: true, cap: { usd: 2, tokens: 200_000 }, spent: { usd: 0, tokens: 500_000 } });
    const more = checkBudget(budget, [...unpriced, spend(null, 400_000)]);
    expect(more).toMatchObject({ ok: false, spent: { usd: 0, tokens: 900_000 }, why: "spent 90 % of the budget (pause at 85 %)" });
  });

  it("counts input plus output tokens, not cached ones twice", () => {
    const usage: Usage = { provider: "anthropic", model: "claude-sonnet-4-5", inputTokens: 1000, outputTokens: 500, cachedTokens: 800, costUsd: 0.01 };
    expect(checkBudget(budget, [usage]).spent).toEqual({ usd: 0.01, tokens: 1500 });
  });
});

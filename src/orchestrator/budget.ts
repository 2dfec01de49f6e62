import { sumUsage, type RepoConfig, type Usage } from "../domain/index.js";

export interface BudgetCheck {
  ok: boolean;
  /** Why no further job may start, when not ok. */
  why?: string;
  /** What the next job may spend at most: the job cap, or what is left if that is less. */
  cap: { usd: number; tokens: number };
  spent: { usd: number; tokens: number };
}

/**
 * Checked before every dispatch: at the pause threshold the run stops and asks a person; a job
 * whose cap the remaining budget cannot cover does not start. Spend therefore never passes the
 * budget by more than one job's cap.
 */
export function checkBudget(
  budget: RepoConfig["budget"],
  usage: readonly Usage[],
  /** Caps of model jobs already running: what they may still spend is not free to give away. */
  reserved: { usd: number; tokens: number } = { usd: 0, tokens: 0 },
): BudgetCheck {
  const total = sumUsage(usage);
  const spent = { usd: total.costUsd, tokens: total.tokens };
  const left = {
    usd: Math.max(0, budget.usd - spent.usd - reserved.usd),
    tokens: Math.max(0, budget.tokens - spent.tokens - reserved.tokens),
  };
  const cap = { usd: Math.min(budget.jobUsd, left.usd), tokens: Math.min(budget.jobTokens, left.tokens) };
  const share = Math.max(spent.usd / budget.usd, spent.tokens / budget.tokens);
  if (share >= budget.pauseAt) {
    return { ok: false, why: `spent ${pct(share)} of the budget (pause at ${pct(budget.pauseAt)})`, cap, spent };
  }
  // A hair of tolerance so that 1 - 0.9 is enough for a 0.1 job in floating point.
  if (left.usd + 1e-9 < budget.jobUsd || left.tokens < budget.jobTokens) {
    return { ok: false, why: `$${left.usd.toFixed(2)} and ${left.tokens} tokens left cannot cover one job's cap ($${budget.jobUsd}, ${budget.jobTokens} tokens)`, cap, spent };
  }
  return { ok: true, cap, spent };
}

const pct = (x: number): string => `${Math.round(x * 100)} %`;

import type { Phase } from "../domain/index.js";

/**
 * Mission Control's vocabulary: what a run is in the words a person uses, and the shapes the
 * pages are rendered from. Pure data; the summary, the views and the router share it.
 */

/** A run's state as a team lead reads it; `needs_you` sorts first. */
export const runStates = ["needs_you", "working", "waiting_ci", "ready", "done", "cancelled"] as const;
export type RunState = (typeof runStates)[number];

export const runStateWords: Record<RunState, string> = {
  needs_you: "needs you",
  working: "working",
  waiting_ci: "waiting on CI",
  ready: "ready for review",
  done: "done",
  cancelled: "cancelled",
};

/** One row of the runs view: everything the list shows, small enough to cache for thousands of runs. */
export interface RunSummary {
  /** `owner/repo#issue` (the run id). */
  id: string;
  owner: string;
  repo: string;
  issue: number;
  title: string;
  state: RunState;
  /** Why it needs a person, in words ("escalated: the tests failed twice", "waiting for /approve", "paused at budget"). */
  reason?: string;
  phase: Phase;
  /** What it is doing now, in words ("building subtask add-divide", "reviewing (round 1)"). */
  step: string;
  /** Failed attempts so far. */
  attempts: number;
  spendUsd: number;
  tokens: number;
  budgetUsd?: number;
  budgetTokens?: number;
  createdAt: string;
  updatedAt: string;
  /** The failure's `class/reason` when escalated, for the floor's most common escalation reasons. */
  escalation?: string;
  /** Spend by UTC day (`YYYY-MM-DD` → USD), for the floor's today and this-month figures. */
  spendByDay: Record<string, number>;
  links: { issue: string; pr?: string; gate?: string };
}

/** The floor: is the factory keeping up, and what does it cost. */
export interface FloorView {
  runners: { name: string; active: number; jobs: string[] }[];
  queue: { waiting: number; oldestWaitingMs?: number };
  /** Spend per repository, today and this month (UTC). */
  spend: { repo: string; todayUsd: number; monthUsd: number }[];
  /** Runs started per day over the last 14 days (UTC, oldest first), by their current state. */
  perDay: { day: string; counts: Record<RunState, number> }[];
  /** Escalation reasons, most frequent first. */
  escalations: { reason: string; count: number }[];
}

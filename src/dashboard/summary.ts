import { sumUsage, type Run } from "../domain/index.js";
import { runStates, type RunState, type RunSummary } from "./types.js";

/**
 * One run as a row of the runs view: its state in the words a team lead uses, what it is doing,
 * what it cost. Pure, so a cache can keep thousands of them and a test can table every phase.
 */
export function summarizeRun(run: Run, opts: { webUrl: string }): RunSummary {
  const { owner, name: repo } = run.repo;
  const web = opts.webUrl.replace(/\/+$/, "");
  const spent = sumUsage(run.usage);
  const { state, reason } = stateOf(run);
  const budget = run.config?.budget;
  const budgetUsd = budget?.usd ?? run.budgetOverride;
  return {
    id: run.id,
    owner,
    repo,
    issue: run.issue.number,
    title: run.issue.title,
    state,
    ...(reason !== undefined && { reason }),
    phase: run.phase,
    step: stepOf(run),
    attempts: run.attempts.length,
    spendUsd: spent.costUsd,
    tokens: spent.tokens,
    ...(budgetUsd !== undefined && { budgetUsd }),
    ...(budget && { budgetTokens: budget.tokens }),
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    ...(run.phase === "escalated" && { escalation: run.failure ? `${run.failure.class}/${run.failure.reason}` : "unknown" }),
    spendByDay: spendByDay(run),
    links: {
      issue: `${web}/${owner}/${repo}/issues/${run.issue.number}`,
      ...(run.pr && { pr: run.pr.url }),
      // `check_run_id` opens the gate itself rather than the first check on the PR.
      ...(run.pr && run.gate?.checkRunId !== undefined && { gate: `${run.pr.url}/checks?check_run_id=${run.gate.checkRunId}` }),
    },
  };
}

function stateOf(run: Run): { state: RunState; reason?: string } {
  switch (run.phase) {
    case "configuring":
    case "planning":
    case "building":
    case "scrutiny":
    case "publishing":
    case "reviewing":
      return { state: "working" };
    case "awaiting_ci":
      return { state: "waiting_ci" };
    case "awaiting_approval":
      return { state: "needs_you", reason: "waiting for /approve from a person with write access" };
    case "paused":
      return { state: "needs_you", reason: "paused: a person pushed to the run branch; /retry resumes on top of it" };
    case "rejected":
      return { state: "needs_you", reason: "the repository's configuration is invalid: see the comment on the issue" };
    case "escalated": {
      // Budget exhaustion is a pause a person lifts with a raised budget, not a defect of the work.
      if (run.failure?.reason === "budget_exhausted") return { state: "needs_you", reason: `paused at budget: ${oneLine(run.failure.detail)}` };
      return { state: "needs_you", reason: `escalated: ${oneLine(run.question ?? run.failure?.detail ?? "a person was asked to take over")}` };
    }
    case "gated": {
      const conclusion = run.gate?.conclusion;
      if (conclusion === "success") return { state: "ready" };
      if (conclusion === undefined) return { state: "working" };
      const failed = (run.gate?.items ?? []).filter((i) => i.state === "fail").map((i) => i.item);
      return { state: "needs_you", reason: failed.length > 0 ? `the gate failed: ${oneLine(failed.join(", "))}` : "the gate asks a person to act" };
    }
    case "done":
      return { state: "done" };
    case "cancelled":
      return { state: "cancelled" };
  }
}

function stepOf(run: Run): string {
  switch (run.phase) {
    case "configuring":
      return "reading the repository's configuration";
    case "planning":
      return run.planRejections > 0 ? "planning again after the plan checker objected" : "planning the work and the validation contract";
    case "awaiting_approval":
      return "the plan waits for /approve";
    case "building": {
      const subtasks = run.plan?.subtasks ?? [];
      const done = subtasks.filter((s) => run.subtasks[s.id]?.status === "ok").length;
      const running = subtasks.filter((s) => run.subtasks[s.id]?.status === "running").map((s) => s.id);
      const what = running.length > 0 ? `building ${running.join(", ")}` : "building";
      return subtasks.length > 0 ? `${what} (${done} of ${subtasks.length} subtasks done)` : what;
    }
    case "scrutiny":
      return "running the repository's own commands on the result";
    case "publishing":
      return "opening the pull request";
    case "reviewing": {
      const wanted = run.config?.review.reviewers.length;
      return `reviewing (round ${run.reviewRound}${wanted ? `, ${run.reviews.length} of ${wanted} reviews in` : ""})`;
    }
    case "awaiting_ci": {
      const ci = run.ci ?? [];
      const running = ci.filter((c) => c.status !== "completed").length;
      return ci.length > 0 ? `waiting on CI (${running} of ${ci.length} checks running)` : "waiting on CI";
    }
    case "gated":
      return run.gate?.conclusion === "success" ? "gate passed: a person reviews and merges" : run.gate?.conclusion ? "gate failed" : "concluding the gate";
    case "paused":
      return "paused after a person pushed";
    case "escalated":
      return run.failure ? `stopped: ${run.failure.reason.replace(/_/g, " ")}` : "stopped";
    case "rejected":
      return "not started: invalid configuration";
    case "done":
      return "merged";
    case "cancelled":
      return "cancelled";
  }
}

/** Spend per UTC day; usage counted before it carried a time is put on the run's last update. */
function spendByDay(run: Run): Record<string, number> {
  const days: Record<string, number> = {};
  const fallback = utcDay(run.updatedAt) ?? run.updatedAt.slice(0, 10);
  for (const u of run.usage) {
    if (!u.costUsd) continue;
    const day = (u.at !== undefined ? utcDay(u.at) : undefined) ?? fallback;
    days[day] = (days[day] ?? 0) + u.costUsd;
  }
  return days;
}

export function utcDay(time: string | number): string | undefined {
  const ms = typeof time === "number" ? time : Date.parse(time);
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : undefined;
}

const stateRank = Object.fromEntries(runStates.map((s, i) => [s, i])) as Record<RunState, number>;

/** Runs that need a person first, then working, waiting on CI, ready, done, cancelled; newest first within each. */
export function sortForTeamLead(summaries: readonly RunSummary[]): RunSummary[] {
  return [...summaries].sort((a, b) => stateRank[a.state] - stateRank[b.state] || Date.parse(b.updatedAt) - Date.parse(a.updatedAt) || a.id.localeCompare(b.id));
}

/** `repo` is `owner/repo`, matched as GitHub matches names: without regard to case. */
export function filterSummaries(summaries: readonly RunSummary[], filter: { state?: RunState; repo?: string }): RunSummary[] {
  const repo = filter.repo?.toLowerCase();
  return summaries.filter((s) => (filter.state === undefined || s.state === filter.state) && (!repo || `${s.owner}/${s.repo}`.toLowerCase() === repo));
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}

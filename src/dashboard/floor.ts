import { runStates, type FloorView, type RunState, type RunSummary } from "./types.js";
import { utcDay } from "./summary.js";

/** What the queue says about itself, as the floor reads it. */
export interface QueueReading {
  waiting: number;
  oldestWaitingMs?: number;
  activeByRunner: Record<string, number>;
  jobsByRunner?: Record<string, string[]>;
}

/** The runs-per-day chart covers two weeks: long enough to see a trend, short enough to read. */
const chartDays = 14;
const dayMs = 86_400_000;

/**
 * The floor from the run summaries and the queue: is the factory keeping up, and what does it
 * cost. Pure; `now` decides which day is today (UTC), so a team across time zones sees one figure.
 */
export function floorView(summaries: readonly RunSummary[], queue: QueueReading, now: number): FloorView {
  return {
    runners: runners(queue),
    queue: { waiting: queue.waiting, ...(queue.oldestWaitingMs !== undefined && { oldestWaitingMs: queue.oldestWaitingMs }) },
    spend: spend(summaries, now),
    perDay: perDay(summaries, now),
    escalations: escalations(summaries),
  };
}

function runners(queue: QueueReading): FloorView["runners"] {
  const names = new Set([...Object.keys(queue.activeByRunner), ...Object.keys(queue.jobsByRunner ?? {})]);
  return [...names].sort().map((name) => ({ name, active: queue.activeByRunner[name] ?? 0, jobs: queue.jobsByRunner?.[name] ?? [] }));
}

/**
 * Repositories active this month (a run updated, or anything spent), the most expensive first:
 * a repository whose models are unpriced still shows, at $0, rather than vanishing.
 */
function spend(summaries: readonly RunSummary[], now: number): FloorView["spend"] {
  const today = utcDay(now)!;
  const month = today.slice(0, 7);
  const byRepo = new Map<string, { todayUsd: number; monthUsd: number }>();
  for (const s of summaries) {
    const repo = `${s.owner}/${s.repo}`;
    const days = Object.entries(s.spendByDay).filter(([day]) => day.startsWith(month));
    if (days.length === 0 && !(utcDay(s.updatedAt) ?? "").startsWith(month)) continue;
    const row = byRepo.get(repo) ?? { todayUsd: 0, monthUsd: 0 };
    for (const [day, usd] of days) {
      row.monthUsd += usd;
      if (day === today) row.todayUsd += usd;
    }
    byRepo.set(repo, row);
  }
  return [...byRepo]
    .map(([repo, row]) => ({ repo, todayUsd: round(row.todayUsd), monthUsd: round(row.monthUsd) }))
    .sort((a, b) => b.monthUsd - a.monthUsd || a.repo.localeCompare(b.repo));
}

function perDay(summaries: readonly RunSummary[], now: number): FloorView["perDay"] {
  const days = Array.from({ length: chartDays }, (_, i) => utcDay(now - (chartDays - 1 - i) * dayMs)!);
  const rows = new Map(days.map((day) => [day, { day, counts: zeroCounts() }]));
  for (const s of summaries) {
    const row = rows.get(utcDay(s.createdAt) ?? "");
    if (row) row.counts[s.state] += 1;
  }
  return [...rows.values()];
}

function escalations(summaries: readonly RunSummary[]): FloorView["escalations"] {
  const counts = new Map<string, number>();
  for (const s of summaries) if (s.escalation) counts.set(s.escalation, (counts.get(s.escalation) ?? 0) + 1);
  return [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

function zeroCounts(): Record<RunState, number> {
  return Object.fromEntries(runStates.map((s) => [s, 0])) as Record<RunState, number>;
}

/** Sums of many small float costs: cents of a cent are noise, and 0.1 + 0.2 should read 0.3. */
function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

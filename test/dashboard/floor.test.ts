import { describe, expect, it } from "vitest";
import { floorView } from "../../src/dashboard/floor.js";
import type { RunState, RunSummary } from "../../src/dashboard/types.js";

const now = Date.parse("2026-11-21T15:00:00.000Z");
const idle = { waiting: 0, activeByRunner: {} };

function summary(id: string, patch: Partial<RunSummary> = {}): RunSummary {
  return {
    id,
    owner: "octo",
    repo: "app",
    issue: 1,
    title: id,
    state: "working",
    phase: "building",
    step: "",
    attempts: 0,
    spendUsd: 0,
    tokens: 0,
    createdAt: "2026-11-21T09:00:00.000Z",
    updatedAt: "2026-11-21T09:00:00.000Z",
    spendByDay: {},
    links: { issue: "" },
    ...patch,
  };
}

describe("floorView", () => {
  it("sums spend per repository for today and this month (UTC), leaving out other months", () => {
    const floor = floorView(
      [
        summary("a1", { spendByDay: { "2026-11-21": 1.5, "2026-11-03": 2, "2026-10-31": 40 } }),
        summary("a2", { spendByDay: { "2026-11-21": 0.25 } }),
        summary("b1", { repo: "lib", spendByDay: { "2026-11-10": 3 }, updatedAt: "2026-11-10T00:00:00.000Z" }),
        summary("c1", { repo: "old", spendByDay: { "2026-10-30": 9 }, updatedAt: "2026-10-30T12:00:00.000Z" }),
      ],
      idle,
      now,
    );
    expect(floor.spend).toEqual([
      { repo: "octo/app", todayUsd: 1.75, monthUsd: 3.75 },
      { repo: "octo/lib", todayUsd: 0, monthUsd: 3 },
    ]);
  });

  it("lists a repository with runs this month but unpriced models at $0 rather than leaving it out", () => {
    const floor = floorView([summary("free", { repo: "local-models", spendByDay: {} })], idle, now);
    expect(floor.spend).toEqual([{ repo: "octo/local-models", todayUsd: 0, monthUsd: 0 }]);
  });

  it("counts runs started on each of the last 14 days by their current state, days without runs included", () => {
    const floor = floorView(
      [
        summary("today-1", { createdAt: "2026-11-21T00:00:00.000Z", state: "needs_you" }),
        summary("today-2", { createdAt: "2026-11-21T14:59:00.000Z", state: "working" }),
        summary("first-day", { createdAt: "2026-11-08T00:00:01.000Z", state: "done" }),
        summary("too-old", { createdAt: "2026-11-07T23:59:59.000Z", state: "done" }),
        summary("mid", { createdAt: "2026-11-15T12:00:00.000Z", state: "cancelled" }),
      ],
      idle,
      now,
    );
    expect(floor.perDay).toHaveLength(14);
    expect(floor.perDay[0]!.day).toBe("2026-11-08");
    expect(floor.perDay[13]!.day).toBe("2026-11-21");
    const zero: Record<RunState, number> = { needs_you: 0, working: 0, waiting_ci: 0, ready: 0, done: 0, cancelled: 0 };
    expect(floor.perDay[0]!.counts).toEqual({ ...zero, done: 1 });
    expect(floor.perDay[7]).toEqual({ day: "2026-11-15", counts: { ...zero, cancelled: 1 } });
    expect(floor.perDay[13]!.counts).toEqual({ ...zero, needs_you: 1, working: 1 });
    expect(floor.perDay[3]!.counts).toEqual(zero);
    const total = floor.perDay.reduce((n, d) => n + Object.values(d.counts).reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(4);
  });

  it("lists escalation reasons most frequent first", () => {
    const floor = floorView(
      [
        summary("1", { state: "needs_you", escalation: "permanent/failed_review" }),
        summary("2", { state: "needs_you", escalation: "permanent/budget_exhausted" }),
        summary("3", { state: "needs_you", escalation: "permanent/budget_exhausted" }),
        summary("4", { state: "needs_you", escalation: "permanent/blocked" }),
        summary("5", { state: "needs_you", escalation: "permanent/budget_exhausted" }),
        summary("6", { state: "needs_you", escalation: "permanent/blocked" }),
        summary("7", { state: "working" }),
      ],
      idle,
      now,
    );
    expect(floor.escalations).toEqual([
      { reason: "permanent/budget_exhausted", count: 3 },
      { reason: "permanent/blocked", count: 2 },
      { reason: "permanent/failed_review", count: 1 },
    ]);
  });

  it("shows each runner with its active count and current jobs, and the queue as read", () => {
    const floor = floorView(
      [],
      {
        waiting: 4,
        oldestWaitingMs: 90_000,
        activeByRunner: { "runner-b": 1, "runner-a": 2 },
        jobsByRunner: { "runner-a": ["octo/app#7:build:impl:a1", "octo/lib#3:plan:a1"], "runner-c": [] },
      },
      now,
    );
    expect(floor.queue).toEqual({ waiting: 4, oldestWaitingMs: 90_000 });
    expect(floor.runners).toEqual([
      { name: "runner-a", active: 2, jobs: ["octo/app#7:build:impl:a1", "octo/lib#3:plan:a1"] },
      { name: "runner-b", active: 1, jobs: [] },
      { name: "runner-c", active: 0, jobs: [] },
    ]);
  });

  it("says nothing about the oldest wait when nothing waits", () => {
    const floor = floorView([], idle, now);
    expect(floor.queue).toEqual({ waiting: 0 });
    expect(floor.runners).toEqual([]);
    expect(floor.spend).toEqual([]);
    expect(floor.escalations).toEqual([]);
    expect(floor.perDay).toHaveLength(14);
  });
});

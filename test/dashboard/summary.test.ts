import { describe, expect, it } from "vitest";
import { PhaseSchema, type Phase, type Run } from "../../src/domain/index.js";
import { filterSummaries, sortForTeamLead, summarizeRun } from "../../src/dashboard/summary.js";
import type { RunState, RunSummary } from "../../src/dashboard/types.js";
import { runNotes } from "../orchestrator/fixtures.js";

const webUrl = "https://github.com";
const plan = {
  summary: "Add farewell() and document it",
  subtasks: [
    { id: "impl", role: "generate", title: "Implement farewell", brief: "Write src/farewell.js", files: ["src/farewell.js"], assertions: ["A1"] },
    { id: "docs", role: "generate", title: "Document farewell", brief: "README", files: ["README.md"], dependsOn: ["impl"], assertions: ["A1"] },
  ],
  contract: { assertions: [{ id: "A1", text: "farewell works", check: { kind: "command", command: "npm test" } }] },
};
const usage = (costUsd: number | null, at?: string, role = "generator", model = "gpt-5") => ({
  role,
  provider: "openai",
  model,
  inputTokens: 1000,
  outputTokens: 500,
  cachedTokens: 0,
  costUsd,
  ...(at !== undefined && { at }),
});

function makeRun(patch: Record<string, unknown> = {}): Run {
  return runNotes(patch);
}

const built = { plan, subtasks: { impl: { status: "ok", attempts: 1 }, docs: { status: "running", attempts: 1 } } };
const withPr = { pr: { number: 12, url: "https://github.com/octo/app/pull/12" } };
const failure = (reason: string, detail: string) => ({ failure: { class: "permanent", reason, detail } });

/** Every phase, with what a team lead should read in the list. */
const cases: { phase: Phase; patch?: Record<string, unknown>; state: RunState; reason?: RegExp; step: RegExp }[] = [
  { phase: "configuring", state: "working", step: /configuration/ },
  { phase: "planning", state: "working", step: /planning/i },
  { phase: "awaiting_approval", patch: { plan }, state: "needs_you", reason: /waiting for \/approve/, step: /\/approve/ },
  { phase: "building", patch: built, state: "working", step: /building docs.*1 of 2/ },
  { phase: "scrutiny", patch: built, state: "working", step: /repository's own commands/ },
  { phase: "publishing", state: "working", step: /pull request/ },
  { phase: "reviewing", patch: { reviewRound: 1, ...withPr }, state: "working", step: /review.*round 1/ },
  { phase: "awaiting_ci", patch: withPr, state: "waiting_ci", step: /CI/ },
  { phase: "gated", patch: { ...withPr, gate: { conclusion: "success", items: [] } }, state: "ready", step: /gate passed/ },
  {
    phase: "gated",
    patch: { ...withPr, gate: { conclusion: "failure", items: [{ item: "Within budget", state: "fail", evidence: "$6 of $5" }] } },
    state: "needs_you",
    reason: /gate failed: Within budget/,
    step: /gate failed/,
  },
  { phase: "gated", patch: { ...withPr, gate: { conclusion: "action_required", items: [] } }, state: "needs_you", reason: /gate/, step: /gate/ },
  { phase: "paused", state: "needs_you", reason: /pushed to the run branch/, step: /paused/ },
  { phase: "cancelled", state: "cancelled", step: /cancelled/ },
  { phase: "done", patch: withPr, state: "done", step: /merged/ },
  {
    phase: "escalated",
    patch: { ...failure("failed_review", "the reviewers disagree"), question: "The reviewers disagree. Which view is right?" },
    state: "needs_you",
    reason: /^escalated: The reviewers disagree\. Which view is right\?$/,
    step: /stopped/,
  },
  {
    phase: "escalated",
    patch: failure("budget_exhausted", "spent 86 % of the budget (pause at 85 %)"),
    state: "needs_you",
    reason: /^paused at budget: spent 86 % of the budget/,
    step: /stopped/,
  },
  { phase: "escalated", patch: failure("blocked", "the tests need a database"), state: "needs_you", reason: /^escalated: the tests need a database$/, step: /stopped/ },
  { phase: "rejected", state: "needs_you", reason: /configuration is invalid/, step: /configuration/ },
];

describe("summarizeRun: the state a person reads", () => {
  it("covers every phase", () => {
    expect(new Set(cases.map((c) => c.phase))).toEqual(new Set(PhaseSchema.options));
  });

  it.each(cases.map((c, i) => [`${c.phase} #${i}`, c] as const))("%s", (_, c) => {
    const s = summarizeRun(makeRun({ phase: c.phase, ...c.patch }), { webUrl });
    expect(s.state).toBe(c.state);
    expect(s.phase).toBe(c.phase);
    expect(s.step).toMatch(c.step);
    if (c.reason) expect(s.reason).toMatch(c.reason);
    else expect(s.reason).toBeUndefined();
  });

  it("names the failure's class and reason for the floor only when escalated", () => {
    expect(summarizeRun(makeRun({ phase: "escalated", ...failure("no_change", "nothing changed") }), { webUrl }).escalation).toBe("permanent/no_change");
    expect(summarizeRun(makeRun({ phase: "building", ...failure("timeout", "slow") }), { webUrl }).escalation).toBeUndefined();
  });

  it("counts spend and tokens from usage against the configured budget, and failed attempts", () => {
    const failed = { class: "transient", reason: "timeout", detail: "slow" };
    const run = makeRun({
      usage: [usage(0.5), usage(0.75), usage(null)],
      attempts: [{ jobId: "j1", task: "impl", at: "2026-11-21T10:05:00.000Z", failure: failed }],
    });
    const s = summarizeRun(run, { webUrl });
    expect(s.spendUsd).toBeCloseTo(1.25);
    expect(s.tokens).toBe(4500);
    expect(s.budgetUsd).toBe(5);
    expect(s.budgetTokens).toBe(2_000_000);
    expect(s.attempts).toBe(1);
    expect(s).toMatchObject({ id: "octo/app#7", owner: "octo", repo: "app", issue: 7, title: "Add farewell", createdAt: run.createdAt, updatedAt: run.updatedAt });
  });

  it("uses a budget given with /retry before the configuration loaded", () => {
    const s = summarizeRun(makeRun({ phase: "configuring", config: undefined, budgetOverride: 9 }), { webUrl });
    expect(s.budgetUsd).toBe(9);
  });

  it("links the issue, the PR and the gate check on github.com and on GHES", () => {
    const run = makeRun({ phase: "gated", ...withPr, gate: { conclusion: "success", items: [], checkRunId: 991 } });
    expect(summarizeRun(run, { webUrl }).links).toEqual({
      issue: "https://github.com/octo/app/issues/7",
      pr: "https://github.com/octo/app/pull/12",
      gate: "https://github.com/octo/app/pull/12/checks?check_run_id=991",
    });
    expect(summarizeRun(makeRun(), { webUrl: "https://ghe.example.com/" }).links).toEqual({ issue: "https://ghe.example.com/octo/app/issues/7" });
  });

  it("has no gate link while the check run is not known", () => {
    const s = summarizeRun(makeRun({ phase: "reviewing", ...withPr, gate: { items: [] } }), { webUrl });
    expect(s.links.pr).toBeDefined();
    expect(s.links.gate).toBeUndefined();
  });

  it("sums spend by UTC day, counting usage without a time on the day the run was last updated", () => {
    const run = makeRun({
      updatedAt: "2026-11-21T10:30:00.000Z",
      usage: [usage(0.1, "2026-11-20T23:59:00.000Z"), usage(0.2, "2026-11-21T01:00:00+02:00"), usage(0.3, "2026-11-21T09:00:00.000Z"), usage(0.4)],
    });
    const days = summarizeRun(run, { webUrl }).spendByDay;
    expect(Object.keys(days).sort()).toEqual(["2026-11-20", "2026-11-21"]);
    // 01:00 at +02:00 is 23:00 UTC the day before.
    expect(days["2026-11-20"]).toBeCloseTo(0.3);
    expect(days["2026-11-21"]).toBeCloseTo(0.7);
  });
});

function summary(id: string, state: RunState, updatedAt: string, owner = "octo", repo = "app"): RunSummary {
  return {
    id,
    owner,
    repo,
    issue: 1,
    title: id,
    state,
    phase: "building",
    step: "",
    attempts: 0,
    spendUsd: 0,
    tokens: 0,
    createdAt: updatedAt,
    updatedAt,
    spendByDay: {},
    links: { issue: "" },
  };
}

describe("sortForTeamLead", () => {
  it("puts runs that need a person first, then working, waiting on CI, ready, done, cancelled; newest first within a state", () => {
    const list = [
      summary("done-old", "done", "2026-11-01T00:00:00Z"),
      summary("cancelled", "cancelled", "2026-11-21T00:00:00Z"),
      summary("working-old", "working", "2026-11-10T00:00:00Z"),
      summary("ready", "ready", "2026-11-20T00:00:00Z"),
      summary("needs-old", "needs_you", "2026-11-02T00:00:00Z"),
      summary("ci", "waiting_ci", "2026-11-20T00:00:00Z"),
      summary("working-new", "working", "2026-11-20T00:00:00Z"),
      summary("needs-new", "needs_you", "2026-11-19T00:00:00Z"),
      summary("done-new", "done", "2026-11-21T00:00:00Z"),
    ];
    expect(sortForTeamLead(list).map((s) => s.id)).toEqual([
      "needs-new",
      "needs-old",
      "working-new",
      "working-old",
      "ci",
      "ready",
      "done-new",
      "done-old",
      "cancelled",
    ]);
    // The input is left as it was.
    expect(list[0]!.id).toBe("done-old");
  });
});

describe("filterSummaries", () => {
  const list = [
    summary("a1", "needs_you", "2026-11-20T00:00:00Z", "octo", "app"),
    summary("a2", "working", "2026-11-20T00:00:00Z", "octo", "app"),
    summary("b1", "needs_you", "2026-11-20T00:00:00Z", "octo", "lib"),
  ];
  it("keeps everything without a filter", () => {
    expect(filterSummaries(list, {}).map((s) => s.id)).toEqual(["a1", "a2", "b1"]);
  });
  it("filters by state", () => {
    expect(filterSummaries(list, { state: "needs_you" }).map((s) => s.id)).toEqual(["a1", "b1"]);
  });
  it("filters by repository, named owner/repo", () => {
    expect(filterSummaries(list, { repo: "octo/lib" }).map((s) => s.id)).toEqual(["b1"]);
    expect(filterSummaries(list, { repo: "Octo/App" }).map((s) => s.id)).toEqual(["a1", "a2"]);
  });
  it("filters by both", () => {
    expect(filterSummaries(list, { state: "needs_you", repo: "octo/app" }).map((s) => s.id)).toEqual(["a1"]);
    expect(filterSummaries(list, { state: "done", repo: "octo/app" })).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { RepoConfigSchema, type GateItem, type Review, type Run } from "../../src/domain/index.js";
import { evaluateGate } from "../../src/orchestrator/gate.js";
import { skipCall } from "../kit/skip-text.js";
import { runNotes } from "./fixtures.js";

/**
 * The Definition of Done as a table: every item failing or waiting on its own, with everything
 * else proven, and then several at once. The run under test starts fully proven, so each case
 * changes only what it is about.
 */

const items = {
  plan: "Plan accepted (and approved when required)",
  subtasks: "Every subtask reported ok",
  lint: "`npm run lint` (lint)",
  test: "`npm test` (test)",
  integrity: "Test integrity against the base",
  contract: "Every contract assertion evidenced",
  quorum: "Reviewer quorum approves, no blocking finding",
  ci: "Repository CI green on the head commit",
  confidence: "Confidence above the threshold",
  budget: "Within budget",
  protected: "Protected paths untouched",
  conflicts: "No conflict with the base branch",
} as const;

const usage = (costUsd: number, inputTokens = 1000, outputTokens = 200) => ({ provider: "openai", model: "gpt-5", inputTokens, outputTokens, cachedTokens: 0, costUsd });

function review(reviewer: "r1" | "r2", patch: Partial<Review> = {}): Review {
  return {
    verdict: "approve",
    summary: `${reviewer} approves`,
    confidence: 0.9,
    findings: [],
    assertionChecks: [{ id: "A2", holds: true, evidence: "the README has a farewell section" }],
    reviewer,
    route: reviewer === "r1" ? "anthropic/claude-sonnet-4-5" : "openai/gpt-5",
    headSha: "head2",
    onDiff: [],
    usage: [usage(0.01)],
    trace: [],
    ...patch,
  };
}

function subtaskResult(headSha: string, confidence = 0.9) {
  return {
    status: "ok" as const,
    confidence,
    summary: "did it",
    handoff: { completed: ["wrote it"], remaining: [], commands: [{ cmd: "npm test", exitCode: 0, ms: 500 }], issues: [], followedProcedure: true },
    artifact: { kind: "diff" as const, headSha, diffStat: "1 file changed", filesChanged: ["src/farewell.js"] },
    usage: [usage(0.02)],
    trace: [],
  };
}

/** A run whose every DoD item is proven: reviews in, CI green, within budget, nothing touched. */
function passingRun(): Run {
  return runNotes({
    updatedAt: "2026-11-21T10:30:00.000Z",
    phase: "awaiting_ci",
    config: RepoConfigSchema.parse({ commands: { lint: "npm run lint", test: "npm test" } }),
    defaultBranch: "main",
    branch: "shopfloor/7-add-farewell",
    baseSha: "base0",
    headSha: "head2",
    plan: {
      summary: "Add farewell() and document it",
      risk: "low",
      subtasks: [
        { id: "impl", role: "generate", title: "Implement farewell", brief: "Write src/farewell.js", files: ["src/farewell.js"], dependsOn: [], assertions: ["A1"] },
        { id: "docs", role: "generate", title: "Document farewell", brief: "README", files: ["README.md"], dependsOn: ["impl"], assertions: ["A2"] },
      ],
      contract: {
        assertions: [
          { id: "A1", text: "farewell('Ann') returns 'Goodbye, Ann!'", check: { kind: "command", command: "npm test" } },
          { id: "A2", text: "README documents farewell", check: { kind: "review", rubric: "README mentions farewell" } },
        ],
      },
    },
    subtasks: {
      impl: { status: "ok", attempts: 1, result: subtaskResult("head1") },
      docs: { status: "ok", attempts: 1, result: subtaskResult("head2", 0.8) },
    },
    scrutiny: [
      { name: "lint", cmd: "npm run lint", exitCode: 0, ms: 800, timedOut: false, outputTail: "" },
      { name: "test", cmd: "npm test", exitCode: 0, ms: 1200, timedOut: false, outputTail: "pass 4" },
    ],
    usage: [{ ...usage(0.04), role: "generate" }, { ...usage(0.02), role: "reviewer" }],
    pr: { number: 12, url: "https://github.example/octo/app/pull/12" },
    integrity: { deletedTests: [], newSkips: [], testCountBase: 3, testCountHead: 4, protectedTouched: [], conflicts: [] },
    reviewRound: 1,
    reviews: [review("r1"), review("r2", { confidence: 0.7 })],
    ci: [{ name: "build", app: "github-actions", status: "completed", conclusion: "success", url: "https://ci.example/build", details: "" }],
  });
}

type Change = (run: Run) => Run;
const withConfig = (run: Run, patch: (c: NonNullable<Run["config"]>) => NonNullable<Run["config"]>): Run => ({ ...run, config: patch(run.config!) });
const withIntegrity = (run: Run, patch: Partial<NonNullable<Run["integrity"]>>): Run => ({ ...run, integrity: { ...run.integrity!, ...patch } });
const withScrutiny = (run: Run, name: string, patch: Partial<NonNullable<Run["scrutiny"]>[number]>): Run => ({
  ...run,
  scrutiny: run.scrutiny!.map((c) => (c.name === name ? { ...c, ...patch } : c)),
});
const withReview = (run: Run, reviewer: string, patch: Partial<Review>): Run => ({
  ...run,
  reviews: run.reviews.map((r) => (r.reviewer === reviewer ? { ...r, ...patch } : r)),
});
const withContract = (run: Run, assertions: NonNullable<Run["plan"]>["contract"]["assertions"]): Run => ({
  ...run,
  plan: { ...run.plan!, contract: { assertions } },
});
const A2 = { id: "A2", text: "README documents farewell", check: { kind: "review" as const, rubric: "README mentions farewell" } };

function itemNamed(items: GateItem[], name: string): GateItem {
  const found = items.find((i) => i.item === name);
  if (!found) throw new Error(`no gate item "${name}" among ${items.map((i) => i.item).join(" / ")}`);
  return found;
}

describe("evaluateGate on a fully proven run", () => {
  it("concludes success with every item passing, each with its evidence", () => {
    const verdict = evaluateGate(passingRun());
    expect(verdict.conclusion).toBe("success");
    expect(verdict.items).toEqual([
      { item: items.plan, state: "pass", evidence: "2 subtask(s), 2 assertion(s); approval not required (risk low)" },
      { item: items.subtasks, state: "pass", evidence: "impl: ok, docs: ok" },
      { item: items.lint, state: "pass", evidence: "exit 0 in 0.8 s" },
      { item: items.test, state: "pass", evidence: "exit 0 in 1.2 s" },
      { item: items.integrity, state: "pass", evidence: "no test deleted or skipped; 3 → 4 tests" },
      { item: items.contract, state: "pass", evidence: "A1: command passed, A2: reviewer checked" },
      { item: items.quorum, state: "pass", evidence: "anthropic/claude-sonnet-4-5: approve, openai/gpt-5: approve" },
      { item: items.ci, state: "pass", evidence: "build: success" },
      { item: items.confidence, state: "pass", evidence: "lowest 0.70 (threshold 0.5)" },
      { item: items.budget, state: "pass", evidence: "$0.06 of $5.00, 2400 of 2000000 tokens" },
      { item: items.protected, state: "pass", evidence: "none of .github/workflows/**" },
      { item: items.conflicts, state: "pass", evidence: "merges cleanly" },
    ]);
  });
});

interface Case {
  name: string;
  change: Change;
  /** The items this case is about; every other item must still pass. */
  expect: { item: string; state: "fail" | "pending" | "pass"; evidence: string | RegExp }[];
}

const alone: Case[] = [
  // Plan approval
  {
    name: "a high-risk plan that no one approved",
    change: (r) => ({ ...r, plan: { ...r.plan!, risk: "high" } }),
    expect: [{ item: items.plan, state: "pending", evidence: "waiting for `/approve` from a person with write access" }],
  },
  {
    name: "a repo that always asks for approval, and no approval",
    change: (r) => withConfig(r, (c) => ({ ...c, approval: { always: true } })),
    expect: [{ item: items.plan, state: "pending", evidence: "waiting for `/approve` from a person with write access" }],
  },
  {
    name: "a high-risk plan approved by a writer",
    change: (r) => ({ ...r, plan: { ...r.plan!, risk: "high" }, approvedBy: "maintainer" }),
    expect: [{ item: items.plan, state: "pass", evidence: "approved by @maintainer" }],
  },
  // Subtasks
  {
    name: "a subtask that reported blocked",
    change: (r) => ({ ...r, subtasks: { ...r.subtasks, docs: { ...r.subtasks.docs!, status: "blocked" } } }),
    expect: [{ item: items.subtasks, state: "fail", evidence: "docs: blocked" }],
  },
  {
    name: "a subtask that failed",
    change: (r) => ({ ...r, subtasks: { ...r.subtasks, impl: { ...r.subtasks.impl!, status: "failed" } } }),
    expect: [{ item: items.subtasks, state: "fail", evidence: "impl: failed" }],
  },
  {
    name: "a subtask of the plan that never ran",
    change: (r) => ({ ...r, subtasks: { impl: r.subtasks.impl! } }),
    expect: [{ item: items.subtasks, state: "fail", evidence: "docs: not run" }],
  },
  // Commands
  {
    name: "a repository command that failed",
    change: (r) => withScrutiny(r, "lint", { exitCode: 1 }),
    expect: [{ item: items.lint, state: "fail", evidence: "exit 1 in 0.8 s" }],
  },
  {
    name: "a repository command that timed out",
    change: (r) => withScrutiny(r, "lint", { exitCode: 124, timedOut: true, ms: 60_000 }),
    expect: [{ item: items.lint, state: "fail", evidence: "timed out after 60.0 s" }],
  },
  {
    name: "no repository command configured (contract checked by review only)",
    change: (r) => withContract({ ...r, scrutiny: [] }, [A2]),
    expect: [{ item: "Repository commands", state: "fail", evidence: "no command configured: set `commands` in .github/shopfloor.yml" }],
  },
  // Test integrity
  {
    name: "a deleted test file",
    change: (r) => withIntegrity(r, { deletedTests: ["test/farewell.test.js"] }),
    expect: [{ item: items.integrity, state: "fail", evidence: "deleted test file test/farewell.test.js" }],
  },
  {
    name: "a new skip",
    change: (r) => withIntegrity(r, { newSkips: [`test/farewell.test.js:5: ${skipCall("test", "skip")}"farewell says goodbye", () => {`] }),
    expect: [{ item: items.integrity, state: "fail", evidence: `new skip/only: test/farewell.test.js:5: ${skipCall("test", "skip")}"farewell says goodbye", () => {` }],
  },
  {
    name: "a new .only",
    change: (r) => withIntegrity(r, { newSkips: [`test/a.test.js:9: ${skipCall("it", "only")}'x', () => {`] }),
    expect: [{ item: items.integrity, state: "fail", evidence: `new skip/only: test/a.test.js:9: ${skipCall("it", "only")}'x', () => {` }],
  },
  {
    name: "a lower test count",
    change: (r) => withIntegrity(r, { testCountBase: 4, testCountHead: 3 }),
    expect: [{ item: items.integrity, state: "fail", evidence: "test count fell from 4 to 3" }],
  },
  {
    name: "an equal test count",
    change: (r) => withIntegrity(r, { testCountBase: 4, testCountHead: 4 }),
    expect: [{ item: items.integrity, state: "pass", evidence: "no test deleted or skipped; 4 → 4 tests" }],
  },
  // Contract
  {
    name: "a command assertion whose command never ran",
    change: (r) => withContract(r, [...r.plan!.contract.assertions, { id: "A3", text: "the e2e suite passes", check: { kind: "command", command: "npm run e2e" } }]),
    expect: [{ item: items.contract, state: "fail", evidence: "A3 (`npm run e2e` not run)" }],
  },
  {
    // A failing contract command is also a failing repository command: both say so.
    name: "a command assertion whose command failed",
    change: (r) => ({
      ...withContract(r, [...r.plan!.contract.assertions, { id: "A3", text: "the e2e suite passes", check: { kind: "command", command: "npm run e2e" } }]),
      scrutiny: [...r.scrutiny!, { name: "contract A3", cmd: "npm run e2e", exitCode: 2, ms: 3000, timedOut: false, outputTail: "1 failing" }],
    }),
    expect: [
      { item: items.contract, state: "fail", evidence: "A3 (`npm run e2e` exit 2)" },
      { item: "`npm run e2e` (contract A3)", state: "fail", evidence: "exit 2 in 3.0 s" },
    ],
  },
  {
    name: "a review assertion no reviewer checked",
    change: (r) => ({ ...r, reviews: r.reviews.map((x) => ({ ...x, assertionChecks: [] })) }),
    expect: [{ item: items.contract, state: "fail", evidence: "A2 (no reviewer checked it)" }],
  },
  {
    name: "a review assertion one reviewer contradicts",
    change: (r) => withReview(r, "r2", { assertionChecks: [{ id: "A2", holds: false, evidence: "the README says nothing of farewell" }] }),
    expect: [{ item: items.contract, state: "fail", evidence: "A2 (a reviewer found it does not hold)" }],
  },
  // Review quorum
  {
    name: "a quorum still incomplete",
    change: (r) => ({ ...r, reviews: [r.reviews[0]!] }),
    expect: [{ item: items.quorum, state: "pending", evidence: "1 of 2 reviews in" }],
  },
  {
    name: "a reviewer requesting changes",
    change: (r) => withReview(r, "r2", { verdict: "request_changes" }),
    expect: [{ item: items.quorum, state: "fail", evidence: "openai/gpt-5 requests changes" }],
  },
  {
    name: "an approval carrying a finding at the blocking severity",
    change: (r) => withReview(r, "r1", { findings: [{ file: "src/farewell.js", line: 2, severity: "high", assertions: [], body: "returns undefined for ''" }], onDiff: [true] }),
    expect: [{ item: items.quorum, state: "fail", evidence: "anthropic/claude-sonnet-4-5: high at src/farewell.js:2" }],
  },
  {
    name: "a critical finding",
    change: (r) => withReview(r, "r2", { findings: [{ file: "src/farewell.js", line: 1, severity: "critical", assertions: ["A1"], body: "evaluates its input" }], onDiff: [true] }),
    expect: [{ item: items.quorum, state: "fail", evidence: "openai/gpt-5: critical at src/farewell.js:1" }],
  },
  {
    name: "a finding below the blocking severity",
    change: (r) => withReview(r, "r1", { findings: [{ file: "src/farewell.js", line: 2, severity: "medium", assertions: [], body: "name the constant" }], onDiff: [true] }),
    expect: [{ item: items.quorum, state: "pass", evidence: "anthropic/claude-sonnet-4-5: approve, openai/gpt-5: approve" }],
  },
  {
    name: "a medium finding where the repo blocks at medium",
    change: (r) =>
      withReview(
        withConfig(r, (c) => ({ ...c, review: { ...c.review, blockingSeverity: "medium" } })),
        "r1",
        { findings: [{ file: "src/farewell.js", line: 2, severity: "medium", assertions: [], body: "name the constant" }], onDiff: [true] },
      ),
    expect: [{ item: items.quorum, state: "fail", evidence: "anthropic/claude-sonnet-4-5: medium at src/farewell.js:2" }],
  },
  // Repository CI
  {
    name: "the repository's CI still running",
    change: (r) => ({ ...r, ci: [{ ...r.ci![0]!, status: "in_progress", conclusion: null }] }),
    expect: [{ item: items.ci, state: "pending", evidence: "build: in_progress" }],
  },
  {
    name: "the repository's CI red",
    change: (r) => ({ ...r, ci: [{ ...r.ci![0]!, conclusion: "failure" }] }),
    expect: [{ item: items.ci, state: "fail", evidence: "build: failure" }],
  },
  {
    name: "the repository's CI timed out",
    change: (r) => ({ ...r, ci: [r.ci![0]!, { name: "e2e", app: "circleci", status: "completed", conclusion: "timed_out", url: "", details: "" }] }),
    expect: [{ item: items.ci, state: "fail", evidence: "e2e: timed_out" }],
  },
  {
    name: "the repository's CI not read yet",
    change: (r) => ({ ...r, ci: undefined }),
    expect: [{ item: items.ci, state: "pending", evidence: "not read yet" }],
  },
  {
    name: "no CI from other apps",
    change: (r) => ({ ...r, ci: [] }),
    expect: [{ item: items.ci, state: "pass", evidence: "no CI: waited 5 min (ci.graceMinutes) for other apps' checks or commit statuses on this commit and saw none" }],
  },
  // Confidence
  {
    name: "a subtask of low confidence",
    change: (r) => ({ ...r, subtasks: { ...r.subtasks, impl: { ...r.subtasks.impl!, result: subtaskResult("head1", 0.3) } } }),
    expect: [{ item: items.confidence, state: "fail", evidence: "impl: 0.30 (threshold 0.5)" }],
  },
  {
    name: "a reviewer of low confidence",
    change: (r) => withReview(r, "r2", { confidence: 0.2 }),
    expect: [{ item: items.confidence, state: "fail", evidence: "openai/gpt-5: 0.20 (threshold 0.5)" }],
  },
  {
    name: "a repo with a higher confidence threshold",
    change: (r) => withConfig(r, (c) => ({ ...c, confidence: { threshold: 0.75 } })),
    expect: [{ item: items.confidence, state: "fail", evidence: "openai/gpt-5: 0.70 (threshold 0.75)" }],
  },
  // Budget
  {
    name: "spend over the dollar budget",
    change: (r) => ({ ...r, usage: [...r.usage, { ...usage(5.5), role: "generate" }] }),
    expect: [{ item: items.budget, state: "fail", evidence: "$5.56 of $5.00, 3600 of 2000000 tokens" }],
  },
  {
    name: "spend over the token budget",
    change: (r) => ({ ...r, usage: [...r.usage, { ...usage(0, 1_999_000, 1000), role: "generate" }] }),
    expect: [{ item: items.budget, state: "fail", evidence: "$0.06 of $5.00, 2002400 of 2000000 tokens" }],
  },
  // Protected paths and conflicts
  {
    name: "a protected path touched",
    change: (r) => withIntegrity(r, { protectedTouched: [".github/workflows/ci.yml"] }),
    expect: [{ item: items.protected, state: "fail", evidence: "changed .github/workflows/ci.yml (protected: .github/workflows/**)" }],
  },
  {
    name: "a conflict with the moved base branch",
    change: (r) => withIntegrity(r, { conflicts: ["src/farewell.js", "README.md"] }),
    expect: [{ item: items.conflicts, state: "fail", evidence: "conflicts with main in src/farewell.js, README.md" }],
  },
];

describe("evaluateGate: each DoD item alone", () => {
  for (const c of alone) {
    it(`${c.name} → ${c.expect.map((e) => `${e.state} on "${e.item}"`).join(", ")}`, () => {
      const verdict = evaluateGate(c.change(passingRun()));
      for (const e of c.expect) {
        const item = itemNamed(verdict.items, e.item);
        expect(item.state).toBe(e.state);
        if (typeof e.evidence === "string") expect(item.evidence).toBe(e.evidence);
        else expect(item.evidence).toMatch(e.evidence);
      }
      // Everything else stays proven: the case is about its own item(s) only.
      const others = verdict.items.filter((i) => !c.expect.some((e) => e.item === i.item));
      expect(others.filter((i) => i.state !== "pass")).toEqual([]);
      const states = c.expect.map((e) => e.state);
      expect(verdict.conclusion).toBe(states.includes("fail") ? "failure" : states.includes("pending") ? "pending" : "success");
    });
  }
});

describe("evaluateGate: items combined", () => {
  it("fails with each failing item evidenced when several fail at once", () => {
    let run = withIntegrity(passingRun(), { deletedTests: ["test/farewell.test.js"], testCountBase: 4, testCountHead: 3, protectedTouched: [".github/workflows/ci.yml"] });
    run = withScrutiny(run, "lint", { exitCode: 2 });
    run = withReview(run, "r2", { verdict: "request_changes" });
    run = { ...run, ci: [{ ...run.ci![0]!, conclusion: "failure" }] };
    const verdict = evaluateGate(run);
    expect(verdict.conclusion).toBe("failure");
    const failing = verdict.items.filter((i) => i.state === "fail").map((i) => [i.item, i.evidence]);
    expect(failing).toEqual([
      [items.lint, "exit 2 in 0.8 s"],
      [items.integrity, "deleted test file test/farewell.test.js; test count fell from 4 to 3"],
      [items.quorum, "openai/gpt-5 requests changes"],
      [items.ci, "build: failure"],
      [items.protected, "changed .github/workflows/ci.yml (protected: .github/workflows/**)"],
    ]);
    expect(verdict.items.filter((i) => i.state === "pending")).toEqual([]);
  });

  it("fails when something fails while something else still waits", () => {
    const run = withIntegrity({ ...passingRun(), ci: [{ ...passingRun().ci![0]!, status: "queued", conclusion: null }] }, { newSkips: [`test/a.test.js:3: ${skipCall("it", "skip")}'x', () => {`] });
    const verdict = evaluateGate(run);
    expect(verdict.conclusion).toBe("failure");
    expect(itemNamed(verdict.items, items.ci)).toEqual({ item: items.ci, state: "pending", evidence: "build: queued" });
    expect(itemNamed(verdict.items, items.integrity)).toEqual({ item: items.integrity, state: "fail", evidence: `new skip/only: test/a.test.js:3: ${skipCall("it", "skip")}'x', () => {` });
  });

  it("waits when nothing fails and several items still wait", () => {
    const base = passingRun();
    const run: Run = { ...base, plan: { ...base.plan!, risk: "high" }, reviews: [base.reviews[0]!], ci: [{ ...base.ci![0]!, status: "in_progress", conclusion: null }] };
    const verdict = evaluateGate(run);
    expect(verdict.conclusion).toBe("pending");
    expect(verdict.items.filter((i) => i.state !== "pass")).toEqual([
      { item: items.plan, state: "pending", evidence: "waiting for `/approve` from a person with write access" },
      { item: items.quorum, state: "pending", evidence: "1 of 2 reviews in" },
      { item: items.ci, state: "pending", evidence: "build: in_progress" },
    ]);
  });

  it("waits on a review assertion while the quorum is incomplete, and fails it once all reviews are in unchecked", () => {
    const base = passingRun();
    const noChecks = base.reviews.map((r) => ({ ...r, assertionChecks: [] }));
    const waiting = evaluateGate({ ...base, reviews: [noChecks[0]!] });
    expect(waiting.conclusion).toBe("pending");
    expect(itemNamed(waiting.items, items.contract)).toEqual({ item: items.contract, state: "pending", evidence: "A2 (no reviewer checked it)" });
    const done = evaluateGate({ ...base, reviews: noChecks });
    expect(done.conclusion).toBe("failure");
    expect(itemNamed(done.items, items.contract).state).toBe("fail");
  });

  it("fails a run with no plan on the plan, subtasks and contract items alike", () => {
    const verdict = evaluateGate({ ...passingRun(), plan: undefined });
    expect(verdict.conclusion).toBe("failure");
    expect(itemNamed(verdict.items, items.plan)).toMatchObject({ state: "fail", evidence: "no accepted plan" });
    expect(itemNamed(verdict.items, items.subtasks)).toMatchObject({ state: "fail", evidence: "no subtasks" });
    expect(itemNamed(verdict.items, items.contract)).toMatchObject({ state: "fail", evidence: "no contract" });
  });

  it("is not done before scrutiny ran: commands fail, integrity and protected paths wait", () => {
    const verdict = evaluateGate({ ...passingRun(), scrutiny: undefined, integrity: undefined });
    expect(verdict.conclusion).toBe("failure");
    expect(itemNamed(verdict.items, "Repository commands")).toMatchObject({ state: "fail", evidence: "not run yet" });
    expect(itemNamed(verdict.items, items.integrity)).toMatchObject({ state: "pending", evidence: "not measured yet" });
    expect(itemNamed(verdict.items, items.protected)).toMatchObject({ state: "pending", evidence: "not measured yet" });
    expect(itemNamed(verdict.items, items.conflicts)).toMatchObject({ state: "pending", evidence: "not measured yet" });
    expect(itemNamed(verdict.items, items.contract)).toMatchObject({ state: "pending", evidence: "A1 (`npm test` not run)" });
  });

  it("never concludes success while any single item is not proven", () => {
    for (const c of alone) {
      const verdict = evaluateGate(c.change(passingRun()));
      const unproven = verdict.items.some((i) => i.state !== "pass");
      expect(verdict.conclusion === "success", c.name).toBe(!unproven);
    }
  });
});

describe("evaluateGate: the setup phase", () => {
  it("fails on a failed install, names it with its output, and says lint and test did not run", () => {
    const run: Run = {
      ...passingRun(),
      scrutiny: [
        { name: "install", cmd: "npm ci", exitCode: 1, ms: 2100, timedOut: false, outputTail: "npm ERR! code E401\nnpm ERR! Unable to authenticate\n" },
        { name: "lint", cmd: "npm run lint", exitCode: -1, ms: 0, timedOut: false, outputTail: "", skipped: "the install step failed" },
        { name: "test", cmd: "npm test", exitCode: -1, ms: 0, timedOut: false, outputTail: "", skipped: "the install step failed" },
      ],
    };
    const verdict = evaluateGate(run);
    expect(verdict.conclusion).toBe("failure");
    expect(itemNamed(verdict.items, "Setup: `npm ci` (install)")).toEqual({
      item: "Setup: `npm ci` (install)",
      state: "fail",
      evidence: "exit 1 in 2.1 s: npm ERR! code E401 / npm ERR! Unable to authenticate",
    });
    expect(itemNamed(verdict.items, items.lint)).toMatchObject({ state: "fail", evidence: "not run: the install step failed" });
    expect(itemNamed(verdict.items, items.test)).toMatchObject({ state: "fail", evidence: "not run: the install step failed" });
  });

  it("passes an install restored from the dependency cache", () => {
    const run: Run = { ...passingRun(), scrutiny: [{ name: "install", cmd: "npm ci", exitCode: 0, ms: 0, timedOut: false, outputTail: "", restored: true }, ...passingRun().scrutiny!] };
    const verdict = evaluateGate(run);
    expect(verdict.conclusion).toBe("success");
    expect(itemNamed(verdict.items, "Setup: `npm ci` (install)")).toMatchObject({ state: "pass", evidence: "restored from the dependency cache" });
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EffectSchema,
  EventSchema,
  RepoConfigSchema,
  RunSchema,
  sumUsage,
  terminalPhases,
  type Effect,
  type Event,
  type Failure,
  type Job,
  type Plan,
  type Run,
  type Subtask,
  type Usage,
} from "../../src/domain/index.js";
import { decide, type Decision, type MachineSettings } from "../../src/orchestrator/machine.js";
import { skipCall } from "../kit/skip-text.js";

/**
 * Properties of `decide` over random event sequences (DESIGN.md §5): a generator picks, from the
 * run's current notes, a plausible next event — mostly an answer to a pending effect, sometimes a
 * stale answer, a repeated label, an `/approve` out of turn, or nothing useful — and each
 * property reads the whole trace. fast-check prints the seed and the shrunk sequence on failure.
 */

const runId = "octo/app#7";
const numRuns = Number(process.env.NUMRUNS ?? 300);
const maxEvents = 60;

// ---------------------------------------------------------------- generators

const weighted = <T>(...pairs: [number, fc.Arbitrary<T>][]) => fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));
const fraction = fc.double({ min: 0, max: 1, noNaN: true });

const settingsArb: fc.Arbitrary<MachineSettings> = fc
  .record({
    maxAttempts: fc.integer({ min: 1, max: 5 }),
    baseDelayMs: fc.integer({ min: 0, max: 5_000 }),
    maxDelayMs: fc.integer({ min: 0, max: 200_000 }),
  })
  .map((retry) => ({ retry, blockedLabel: "agent:blocked" }));

/** Small budgets, so that the budget stops runs often; sometimes the defaults. */
const configArb = fc
  .record({
    budget: weighted<Record<string, number> | undefined>(
      [1, fc.constant(undefined)],
      [
        3,
        fc
          .record({
            usd: fc.double({ min: 0.05, max: 5, noNaN: true }),
            tokens: fc.integer({ min: 1_000, max: 2_000_000 }),
            pauseAt: weighted([1, fc.constant(0.85)], [1, fc.double({ min: 0.3, max: 1, noNaN: true })]),
            /** A job's cap as a share of the run's budget: a handful of jobs fit. */
            jobShare: fc.double({ min: 0.02, max: 0.6, noNaN: true }),
            jobTokenShare: fc.double({ min: 0.02, max: 0.6, noNaN: true }),
          })
          .map(({ jobShare, jobTokenShare, ...b }) => ({ ...b, jobUsd: b.usd * jobShare, jobTokens: Math.max(1, Math.floor(b.tokens * jobTokenShare)) })),
      ],
    ),
    owners: fc.subarray(["alice", "bob", "carol"]),
    always: weighted([4, fc.constant(false)], [1, fc.constant(true)]),
    parallel: fc.boolean(),
    threshold: weighted([3, fc.constant(0.5)], [1, fraction]),
    commands: fc.constantFrom({}, { install: "npm ci", lint: "npm run lint", test: "npm test" }, { test: "" }),
    reviewers: fc.constantFrom(["anthropic/claude-sonnet-4-5", "openai/gpt-5"], ["anthropic/claude-sonnet-4-5", "openai/gpt-5", "local/qwen3-coder"]),
    blockingSeverity: fc.constantFrom("medium" as const, "high" as const),
    fixRounds: fc.integer({ min: 0, max: 2 }),
    onDisagreement: fc.constantFrom("fix" as const, "escalate" as const),
    ciFixAttempts: fc.integer({ min: 0, max: 2 }),
  })
  .map((c) =>
    RepoConfigSchema.parse({
      ...(c.budget && { budget: c.budget }),
      owners: c.owners,
      approval: { always: c.always },
      parallel: c.parallel,
      confidence: { threshold: c.threshold },
      commands: c.commands,
      review: { reviewers: c.reviewers, blockingSeverity: c.blockingSeverity, fixRounds: c.fixRounds, onDisagreement: c.onDisagreement },
      ci: { fixAttempts: c.ciFixAttempts },
    }),
  );

const transientReasons = ["timeout", "rate_limit", "server_error", "network", "worker_lost"] as const;
const permanentReasons = ["blocked", "low_confidence", "invalid_output", "failed_review", "budget_exhausted", "policy_violation", "no_change", "bug"] as const;
/** A few details only, so that "the same failure twice in a row" happens. */
const detailArb = fc.constantFrom("boom", "socket hang up", "503 Service Unavailable");
const failureArb: fc.Arbitrary<Failure> = weighted<Failure>(
  [
    3,
    fc.record(
      { class: fc.constant("transient" as const), reason: fc.constantFrom(...transientReasons), detail: detailArb, retryAfterMs: fc.nat(300_000) },
      { requiredKeys: ["class", "reason", "detail"] },
    ),
  ],
  [1, fc.record({ class: fc.constant("permanent" as const), reason: fc.constantFrom(...permanentReasons), detail: detailArb })],
);

/** How much of its cap a job spends: often all of it, since that is where budgets break. */
const spendArb = fc.record({
  usd: weighted([2, fc.constant(1)], [1, fraction]),
  tokens: weighted([2, fc.constant(1)], [1, fraction]),
  priced: weighted([4, fc.constant(true)], [1, fc.constant(false)]),
  inputShare: fraction,
});
type Spend = typeof spendArb extends fc.Arbitrary<infer T> ? T : never;

/** A runner enforces the job's cap, so what a job reports never exceeds it. */
function usageWithin(cap: Job["cap"], s: Spend): Usage[] {
  if (!cap) return [];
  const tokens = Math.floor(cap.tokens * s.tokens);
  const inputTokens = Math.floor(tokens * s.inputShare);
  return [{ provider: "anthropic", model: "claude-sonnet-4-5", inputTokens, outputTokens: tokens - inputTokens, cachedTokens: 0, costUsd: s.priced ? cap.usd * s.usd : null }];
}

const roleArb = fc.constantFrom("generate" as const, "test" as const, "review" as const);
const planShapeArb = fc.record({
  valid: weighted([4, fc.constant(true)], [1, fc.constant(false)]),
  /** A generate subtask and reviewers with no dependencies: in parallel mode they all run at once. */
  fanOut: fc.boolean(),
  n: fc.integer({ min: 1, max: 4 }),
  roles: fc.array(roleArb, { minLength: 4, maxLength: 4 }),
  /** Bitmasks over subtask indices. */
  deps: fc.array(fc.nat(15), { minLength: 4, maxLength: 4 }),
  covers: fc.array(fc.nat(15), { minLength: 4, maxLength: 4 }),
  files: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
  assertions: fc.integer({ min: 1, max: 4 }),
  risk: weighted([4, fc.constant("low" as const)], [1, fc.constant("high" as const)]),
  duplicateId: weighted([9, fc.constant(false)], [1, fc.constant(true)]),
  unknownDep: weighted([9, fc.constant(false)], [1, fc.constant(true)]),
});
type PlanShape = typeof planShapeArb extends fc.Arbitrary<infer T> ? T : never;

const bits = (mask: number, below: number): number[] => [...Array(below).keys()].filter((i) => (mask >> i) & 1);

/**
 * A valid shape is a DAG (edges only to earlier subtasks) led by a generate subtask, each subtask
 * owning its own file and covering its own assertion; a fan-out adds independent reviewers. Any other shape is drawn freely and usually
 * fails a check: cycles, self-dependencies, no generate subtask, uncovered assertions, shared files.
 */
function planOf(shape: PlanShape): Plan {
  const p = shape.valid && shape.fanOut ? { ...shape, n: 4 } : shape;
  const pool = ["src/a.ts", "src", "docs/x.md", "test/a.test.ts"];
  const subtasks: Subtask[] = [...Array(p.n).keys()].map((i) => ({
    id: p.valid || !p.duplicateId || i < p.n - 1 || i === 0 ? `s${i}` : "s0",
    role: p.valid && i === 0 ? "generate" : p.valid && p.fanOut ? "review" : p.roles[i]!,
    title: `Subtask ${i}`,
    brief: `Do part ${i}`,
    files: p.valid ? [`src/m${i}.ts`] : [pool[p.files[i]!]!],
    dependsOn: [...bits(p.valid && p.fanOut ? 0 : p.deps[i]!, p.valid ? i : p.n).map((j) => `s${j}`), ...(!p.valid && p.unknownDep && i === 0 ? ["ghost"] : [])],
    assertions: p.valid ? [`A${i}`] : bits(p.covers[i]!, p.assertions).map((j) => `A${j}`),
  }));
  const count = p.valid ? p.n : p.assertions;
  const assertions = [...Array(count).keys()].map((j) => ({ id: `A${j}`, text: `assertion ${j}`, check: { kind: "command" as const, command: "npm test" } }));
  return { summary: "random plan", risk: p.risk, subtasks, contract: { assertions } };
}

const stepArb = fc.record({
  /** Which kind of event: an answer, a stale answer, a repeated label, an approval, or noise. */
  what: fc.nat(99),
  /** How a pending effect is answered: success, failure, or the effect itself failing. */
  how: fc.nat(99),
  pick: fc.nat(1_000),
  failure: failureArb,
  effectFailure: failureArb,
  jitter: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  config: configArb,
  invalidConfig: weighted([9, fc.constant(false)], [1, fc.constant(true)]),
  plan: planShapeArb,
  status: weighted([8, fc.constant("ok" as const)], [1, fc.constant("blocked" as const)], [1, fc.constant("failed" as const)]),
  confidence: weighted([3, fc.double({ min: 0.5, max: 1, noNaN: true })], [1, fraction]),
  unchanged: weighted([9, fc.constant(false)], [1, fc.constant(true)]),
  exits: fc.array(weighted([5, fc.constant(0)], [1, fc.constantFrom(1, 2, 137)]), { minLength: 3, maxLength: 3 }),
  integrity: weighted([3, fc.constant("none" as const)], [2, fc.constant("clean" as const)], [1, fc.constant("skips" as const)]),
  verdict: weighted([4, fc.constant("approve" as const)], [1, fc.constant("request_changes" as const)]),
  findings: fc.array(fc.record({ severity: fc.constantFrom("info" as const, "low" as const, "medium" as const, "high" as const, "critical" as const), onDiff: fc.boolean() }), { maxLength: 2 }),
  /** Other apps' CI on the head: each check completed or running, green or red. */
  ci: fc.array(fc.record({ done: weighted([4, fc.constant(true)], [1, fc.constant(false)]), green: weighted([3, fc.constant(true)], [1, fc.constant(false)]) }), { maxLength: 2 }),
  spend: spendArb,
  commentId: fc.option(fc.nat(1_000_000), { nil: undefined }),
  advanceMs: fc.nat(600_000),
});
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------- the simulation

interface Traced {
  before: Run | undefined;
  event: Event;
  decision: Decision;
}

/** Turns random steps into events against the run as it is, and records every decision. */
class World {
  run: Run | undefined;
  t = Date.parse("2026-11-21T10:00:00.000Z");
  shas = 0;
  deliveries = 0;
  /** Every effect ever decided, by key: the material of stale answers. */
  readonly seen = new Map<string, Effect>();
  readonly trace: Traced[] = [];

  constructor(readonly settings: MachineSettings) {}

  feed(step: Step): void {
    this.t += step.advanceMs;
    const event = EventSchema.parse(this.next(step, new Date(this.t).toISOString()));
    const before = this.run;
    const decision = decide(before, event, this.settings);
    for (const e of decision.effects) this.seen.set(e.key, e);
    this.trace.push({ before, event, decision });
    this.run = decision.run;
  }

  private next(s: Step, at: string): Event {
    const run = this.run;
    const requested = (): Event => ({
      type: "run.requested",
      runId,
      at,
      deliveryId: `d-${++this.deliveries}`,
      repo: { owner: "octo", name: "app", installationId: 42 },
      issue: { number: 7, title: "Add a farewell() helper", body: "Please add farewell(name)." },
      sender: "writer",
    });
    if (!run) return s.what < 90 ? requested() : { type: "effect.done", runId, at, key: `${runId}:loadConfig:1` };
    if (s.what < 80) {
      if (run.pending.length === 0) return { type: "effect.done", runId, at, key: `${runId}:nothing:0` };
      return this.answer(run.pending[s.pick % run.pending.length]!, s, at);
    }
    if (s.what < 86) {
      const pending = new Set(run.pending.map((e) => e.key));
      const stale = [...this.seen.values()].filter((e) => !pending.has(e.key));
      if (stale.length === 0) return { type: "comment.upserted", runId, at, key: `${runId}:upsertProgressComment:999`, commentId: 1 };
      return this.answer(stale[s.pick % stale.length]!, s, at);
    }
    if (s.what < 90) return requested();
    if (s.what < 94) return { type: "plan.approved", runId, at, by: "maintainer" };
    if (s.what < 96) return { type: "ci.completed", runId, at, headSha: s.pick % 2 === 0 ? (run.headSha ?? "none") : "0ther" };
    return s.what % 2 === 0
      ? { type: "effect.done", runId, at, key: `${runId}:nothing:${s.pick}` }
      : { type: "effect.failed", runId, at, key: `${runId}:nothing:${s.pick}`, failure: s.effectFailure, jitter: s.jitter };
  }

  /** What the shell would report for `effect`, as the effect module or a runner would. */
  private answer(effect: Effect, s: Step, at: string): Event {
    const base = { runId, at, key: effect.key };
    const effectFailed: Event = { ...base, type: "effect.failed", failure: s.effectFailure, jitter: s.jitter };
    if (effect.kind === "dispatchJob") {
      if (s.how >= 95) return effectFailed;
      const job = effect.job;
      if (s.how >= 75) return { ...base, type: "job.failed", jobId: job.jobId, failure: s.failure, usage: usageWithin(job.cap, s.spend), jitter: s.jitter };
      if (job.kind === "plan") {
        return { ...base, type: "job.succeeded", jobId: job.jobId, output: { kind: "plan", plan: planOf(s.plan), baseSha: "base0", usage: usageWithin(job.cap, s.spend) } };
      }
      if (job.kind === "build") {
        const headSha = s.unchanged ? job.fromSha : `sha${++this.shas}`;
        return {
          ...base,
          type: "job.succeeded",
          jobId: job.jobId,
          output: {
            kind: "build",
            result: {
              status: s.status,
              confidence: s.confidence,
              summary: "did the work",
              handoff: { completed: ["x"], remaining: [], commands: [], issues: [], followedProcedure: true },
              artifact: { kind: "diff", headSha, diffStat: "1 file changed", filesChanged: job.subtask.files },
              usage: usageWithin(job.cap, s.spend),
              trace: [],
            },
          },
        };
      }
      if (job.kind === "scrutiny") {
        const commands = job.commands.map((c, i) => ({ ...c, exitCode: s.exits[i % 3]!, ms: 1000, timedOut: s.exits[i % 3] === 137, outputTail: "" }));
        const integrity =
          s.integrity === "none"
            ? undefined
            : { deletedTests: [], newSkips: s.integrity === "skips" ? [`test/a.test.ts:3: ${skipCall("it", "skip")}`] : [], testCountBase: 3, testCountHead: 3, protectedTouched: [], conflicts: [] };
        return { ...base, type: "job.succeeded", jobId: job.jobId, output: { kind: "scrutiny", commands, ...(integrity && { integrity }) } };
      }
      const findings = s.findings.map((f, i) => ({ file: `src/m${i}.ts`, line: 1 + i, severity: f.severity, assertions: [], body: `finding ${i}` }));
      const review = {
        verdict: s.verdict,
        summary: "read the diff",
        confidence: s.confidence,
        findings,
        assertionChecks: [],
        reviewer: job.reviewer,
        route: job.route ?? "anthropic/claude-sonnet-4-5",
        headSha: job.headSha,
        onDiff: s.findings.map((f) => f.onDiff),
        usage: usageWithin(job.cap, s.spend),
        trace: [],
      };
      return { ...base, type: "job.succeeded", jobId: job.jobId, output: { kind: "review", review } };
    }
    if (s.how >= 85) return effectFailed;
    switch (effect.kind) {
      case "loadConfig":
        return s.invalidConfig
          ? { ...base, type: "config.invalid", errors: ["`budget.usd`: expected number, received string"] }
          : { ...base, type: "config.loaded", config: s.config, defaultBranch: "main" };
      case "upsertProgressComment":
        return { ...base, type: "comment.upserted", ...(s.commentId !== undefined && { commentId: s.commentId }) };
      case "postConfigError":
        return { ...base, type: "comment.upserted", commentId: s.commentId ?? 1 };
      case "openPullRequest":
        return { ...base, type: "pr.opened", number: 12, url: "https://github.com/octo/app/pull/12" };
      case "publishGate":
        return { ...base, type: "gate.published", checkRunId: 5 + s.pick };
      case "readCi": {
        const checks = s.ci.map((c, i) => ({ name: `ci-${i}`, app: "github-actions", status: c.done ? "completed" : "in_progress", conclusion: c.done ? (c.green ? "success" : "failure") : null, url: "", details: "" }));
        return { ...base, type: "ci.read", checks };
      }
      default:
        return { ...base, type: "effect.done" };
    }
  }
}

const sequenceArb = fc.tuple(settingsArb, fc.array(stepArb, { minLength: 1, maxLength: maxEvents, size: "max" }));

function simulate([settings, steps]: [MachineSettings, Step[]]): World {
  const world = new World(settings);
  for (const s of steps) world.feed(s);
  return world;
}

/**
 * Each property runs the same kind of sequences. A failure prints fast-check's seed and shrunk
 * steps, and, to read it, the shrunk trace: phase, event, new phase, effects.
 */
function holds(check: (world: World) => void): void {
  fc.assert(
    fc.property(sequenceArb, (input) => {
      const world = simulate(input);
      try {
        check(world);
      } catch (error) {
        (error as Error).message += `\n${describeTrace(world)}`;
        throw error;
      }
    }),
    // Shrinking a 60-event failure can take long; past the limit fast-check reports the smallest
    // counterexample found so far. A passing property needs about a second, well under it.
    { numRuns, interruptAfterTimeLimit: 4_000 },
  );
}

function describeTrace(world: World): string {
  const lines = [`retry policy ${JSON.stringify(world.settings.retry)}`];
  for (const { before, event: e, decision } of world.trace) {
    if (decision.note) continue;
    let detail = "";
    if (e.type === "config.loaded") detail = ` parallel=${e.config.parallel} budget=${JSON.stringify(e.config.budget)}`;
    if (e.type === "job.succeeded" && e.output.kind === "plan") detail = ` ${e.output.plan.subtasks.map((s) => `${s.id}:${s.role}<-[${s.dependsOn}]`).join(" ")}`;
    if (e.type === "job.succeeded" && e.output.kind === "build") detail = ` ${e.output.result.status} confidence ${e.output.result.confidence.toFixed(2)}`;
    if (e.type === "job.succeeded" && e.output.kind === "review") detail = ` ${e.output.review.reviewer} ${e.output.review.verdict} ${e.output.review.findings.map((f) => f.severity)}`;
    if (e.type === "job.succeeded" && e.output.kind === "scrutiny") detail = ` exits ${e.output.commands.map((c) => c.exitCode)}`;
    if (e.type === "ci.read") detail = ` ${e.checks.map((c) => `${c.status}/${c.conclusion}`)}`;
    const output = e.type === "job.succeeded" ? e.output : undefined;
    const usage = output?.kind === "plan" ? output.usage : output?.kind === "build" ? output.result.usage : output?.kind === "review" ? output.review.usage : e.type === "job.failed" ? e.usage : [];
    if (usage.length > 0) detail += ` spent ${JSON.stringify(sumUsage(usage))}`;
    if (e.type === "job.failed" || e.type === "effect.failed") detail = ` ${e.failure.class}/${e.failure.reason}/${e.failure.detail}`;
    const answered = "key" in e ? ` ${e.key.slice(runId.length + 1)}` : "";
    const effects = decision.effects.map((x) => (x.kind === "dispatchJob" ? `dispatchJob(${x.job.jobId.slice(runId.length + 1)})` : x.kind));
    lines.push(`  ${before?.phase ?? "-"} --${e.type}${answered}${detail}--> ${decision.run?.phase} [${effects.join(", ")}]`);
  }
  return lines.join("\n");
}

/** A fresh run starts when a label is applied to an issue with no run or a finished one. */
const startsRun = (t: Traced): boolean => t.event.type === "run.requested" && t.decision.run !== t.before;
const isModelJob = (job: Job): boolean => job.kind !== "scrutiny";
const jobsOf = (effects: readonly Effect[]) => effects.flatMap((e) => (e.kind === "dispatchJob" ? [e.job] : []));
const shaOf = (run: Run): string | undefined => run.headSha ?? run.baseSha;
const EPS = 1e-9;

// ---------------------------------------------------------------- properties

describe("decide over random event sequences", () => {
  it("never merges: every effect is one of the known kinds, valid, and names no merge endpoint", () => {
    const known = new Set<string>([
      "loadConfig",
      "upsertProgressComment",
      "postConfigError",
      "dispatchJob",
      "openPullRequest",
      "publishGate",
      "postReview",
      "markReady",
      "requestReviewers",
      "readCi",
      "addLabels",
      "assignOwners",
      "postHandoff",
      "stopJobs",
      "postReply",
      "addReaction",
      "removeLabels",
      "deleteBranch",
    ]);
    const merge = /\/merge\b|mergePullRequest|enablePullRequestAutoMerge|merge_method/i;
    holds((world) => {
      for (const { decision } of world.trace) {
        for (const effect of decision.effects) {
          expect(known.has(effect.kind), `unknown effect kind ${effect.kind}`).toBe(true);
          expect(EffectSchema.safeParse(effect).success).toBe(true);
          expect(JSON.stringify(effect)).not.toMatch(merge);
        }
      }
    });
  });

  it("never passes the retry policy: a job's attempt is at most maxAttempts, a plan's maxAttempts + 1", () => {
    // Job ids end in `:a<attempt>`. A transient failure of attempt n is retried as n + 1 only while
    // n < maxAttempts, so retries alone stop at maxAttempts. A plan that fails the checker is
    // re-asked once as attempt n + 1, and it can fail the checker at attempt maxAttempts; the
    // re-ask is then maxAttempts + 1 and is not retried (n >= maxAttempts), and a second bad
    // plan escalates. So: plan jobs <= maxAttempts + 1; build and scrutiny jobs <= maxAttempts.
    holds((world) => {
      const max = world.settings.retry.maxAttempts;
      for (const { decision } of world.trace) {
        for (const job of jobsOf(decision.effects)) {
          expect(job.jobId.endsWith(`:a${job.attempt}`)).toBe(true);
          expect(job.attempt).toBeLessThanOrEqual(job.kind === "plan" ? max + 1 : max);
          // A job sent again after a failure is told what failed (or, for a re-asked plan, why).
          if (job.attempt > 1) expect(job.reflection !== undefined || (job.kind === "plan" && job.feedback !== undefined)).toBe(true);
        }
      }
    });
  });

  it("never starts a model job the budget cannot cover, and never overspends by more than one job's cap", () => {
    holds((world) => {
      const dispatched = new Set<string>();
      for (const { decision } of world.trace) {
        const run = decision.run;
        if (!run?.config) continue;
        const budget = run.config.budget;
        const spent = sumUsage(run.usage);
        for (const job of jobsOf(decision.effects)) {
          // The same job sent again (its dispatch effect failed) is the same job with the same cap.
          if (!isModelJob(job) || dispatched.has(job.jobId)) continue;
          dispatched.add(job.jobId);
          expect(job.cap, `${job.jobId} has no cap`).toBeDefined();
          const cap = job.cap!;
          // Under the pause threshold, hence under the budget.
          expect(Math.max(spent.costUsd / budget.usd, spent.tokens / budget.tokens)).toBeLessThan(budget.pauseAt);
          expect(cap.usd).toBeLessThanOrEqual(Math.min(budget.jobUsd, budget.usd - spent.costUsd) + EPS);
          expect(cap.tokens).toBeLessThanOrEqual(Math.min(budget.jobTokens, budget.tokens - spent.tokens));
        }
        // Job results never exceed their cap (a runner enforces it), so this is the engine's promise.
        expect(spent.costUsd, `spent $${spent.costUsd} of $${budget.usd} (job cap $${budget.jobUsd})`).toBeLessThanOrEqual(budget.usd + budget.jobUsd + EPS);
        expect(spent.tokens, `spent ${spent.tokens} of ${budget.tokens} tokens (job cap ${budget.jobTokens})`).toBeLessThanOrEqual(budget.tokens + budget.jobTokens);
      }
    });
  });

  it("leaves every terminal run with its gate check (or, with no commit to check, none)", () => {
    // A commit sha exists once a plan is accepted (its `baseSha`); a run stopped before that —
    // rejected config, config or planning failures, a budget too small for the planner — has no
    // commit for a check run and so emits no publishGate. Every other gated or escalated run has
    // emitted one whose conclusion is the run's `gate.conclusion`.
    holds((world) => {
      let gates: Extract<Effect, { kind: "publishGate" }>[] = [];
      let configErrors = 0;
      for (const t of world.trace) {
        if (startsRun(t)) {
          gates = [];
          configErrors = 0;
        }
        for (const e of t.decision.effects) {
          if (e.kind === "publishGate") gates.push(e);
          if (e.kind === "postConfigError") configErrors++;
        }
        const run = t.decision.run;
        if (!run || !terminalPhases.includes(run.phase)) continue;
        const sha = shaOf(run);
        if (run.phase === "rejected") {
          expect(sha).toBeUndefined();
          expect(gates).toEqual([]);
          expect(configErrors).toBeGreaterThan(0);
          continue;
        }
        if (sha === undefined) {
          expect(run.phase).toBe("escalated");
          expect(gates).toEqual([]);
          expect(run.gate).toBeUndefined();
        } else {
          expect(gates.length, `${run.phase} run at ${sha} without a publishGate`).toBeGreaterThan(0);
          expect(run.gate?.conclusion).toBe(gates.at(-1)!.conclusion);
        }
        if (run.phase === "gated") {
          expect(run.pr).toBeDefined();
          expect(run.gate?.conclusion).toBeDefined();
          expect(run.gate?.checkRunId, "a gated run knows its check run").toBeDefined();
          expect(gates.at(-1)!.headSha).toBe(run.headSha);
        } else {
          expect(run.failure).toBeDefined();
          expect(run.question).toBeDefined();
          if (sha !== undefined) expect(run.gate?.conclusion).toBe("action_required");
        }
      }
    });
  });

  it("keeps a finished run finished: only a new label starts work again", () => {
    holds((world) => {
      for (const t of world.trace) {
        if (!t.before || !terminalPhases.includes(t.before.phase) || t.event.type === "run.requested") continue;
        const started = t.decision.effects.filter((e) => e.kind === "dispatchJob" || e.kind === "openPullRequest");
        expect(started.map((e) => e.key), `${t.event.type} on a ${t.before.phase} run started work`).toEqual([]);
        // A rejected run whose config-error comment GitHub refuses is escalated instead: still terminal.
        expect(terminalPhases, `${t.event.type} moved a ${t.before.phase} run to ${t.decision.run?.phase}`).toContain(t.decision.run?.phase);
      }
    });
  });

  it("concludes the gate success only on evidence: a plan, every subtask ok, every command exit 0", () => {
    holds((world) => {
      for (const { decision } of world.trace) {
        if (!decision.effects.some((e) => e.kind === "publishGate" && e.conclusion === "success")) continue;
        const run = decision.run!;
        expect(run.plan).toBeDefined();
        expect(run.plan!.subtasks.every((s) => run.subtasks[s.id]?.status === "ok")).toBe(true);
        expect(run.scrutiny?.length).toBeGreaterThan(0);
        expect(run.scrutiny!.every((c) => c.exitCode === 0)).toBe(true);
      }
    });
  });

  it("rebuilds the same run document by replaying the journaled events from nothing", () => {
    holds((world) => {
      // The engine journals each event as JSON and reads it back through the schema.
      const journal = world.trace.map((t) => EventSchema.parse(JSON.parse(JSON.stringify(t.event))));
      let replayed: Run | undefined;
      for (const event of journal) replayed = decide(replayed, event, world.settings).run;
      expect(replayed).toEqual(world.run);
      // And the document survives the store's JSON round trip.
      if (world.run) expect(RunSchema.parse(JSON.parse(JSON.stringify(world.run)))).toEqual(world.run);
    });
  });

  it("is pure: the same inputs give the same decision, and inputs are never mutated", () => {
    holds((world) => {
      for (const t of world.trace) {
        const before = deepFreeze(structuredClone(t.before));
        const event = deepFreeze(structuredClone(t.event));
        const first = decide(before, event, world.settings);
        const second = decide(before, event, world.settings);
        expect(second).toEqual(first);
        expect(first).toEqual(t.decision);
      }
    });
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

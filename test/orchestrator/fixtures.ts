import type { Effect, Event, Finding, JobOutput, Plan, RepoConfig, Result, Review, Run } from "../../src/domain/index.js";
import { RunSchema, defaultRepoConfig } from "../../src/domain/index.js";
import { decide } from "../../src/orchestrator/machine.js";

export const runId = "octo/app#7";
export const at = "2026-11-21T10:00:00.000Z";

export const requested: Extract<Event, { type: "run.requested" }> = {
  type: "run.requested",
  runId,
  at,
  deliveryId: "d-1",
  repo: { owner: "octo", name: "app", installationId: 42 },
  issue: { number: 7, title: "Add a farewell() helper!", body: "Please add farewell(name)." },
  sender: "writer",
};

export const plan: Plan = {
  summary: "Add farewell() and test it",
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
};

export function result(headSha: string, status: Result["status"] = "ok"): Result {
  return {
    status,
    confidence: 0.9,
    summary: "did it",
    handoff: { completed: ["wrote it"], remaining: [], commands: [{ cmd: "npm test", exitCode: 0, ms: 12 }], issues: [], followedProcedure: true },
    artifact: { kind: "diff", headSha, diffStat: "1 file changed", filesChanged: ["src/farewell.js"] },
    usage: [{ provider: "openai", model: "gpt-5", inputTokens: 100, outputTokens: 20, cachedTokens: 0, costUsd: 0.001 }],
    trace: [],
  };
}

/**
 * Run notes for views and checks that read a run as it is stored: octo/app#7, building on its
 * branch with the default config, with `patch` over that; parsed, so defaults fill the rest.
 */
export function runNotes(patch: Record<string, unknown> = {}): Run {
  return RunSchema.parse({
    id: runId,
    repo: requested.repo,
    issue: { number: 7, title: "Add farewell", body: "Please add farewell(name)." },
    requestedBy: "writer",
    deliveryId: "d-1",
    createdAt: at,
    updatedAt: "2026-11-21T10:30:00.000Z",
    phase: "building",
    config: defaultRepoConfig,
    branch: "shopfloor/7-add-farewell",
    ...patch,
  });
}

/** A run that was just requested: what effect tests perform their effects on. */
export function requestedRun(): Run {
  return decide(undefined, requested).run!;
}

/** Feed events through `decide`, answering each by the kind of the pending effect it names. */
export class Driver {
  run: Run | undefined;
  effects: Effect[] = [];
  notes: string[] = [];

  step(event: Event): Effect[] {
    const d = decide(this.run, event);
    this.run = d.run;
    this.effects = d.effects;
    if (d.note) this.notes.push(d.note);
    return d.effects;
  }

  pending(kind: Effect["kind"]): Effect {
    const e = this.run!.pending.find((p) => p.kind === kind);
    if (!e) throw new Error(`no pending ${kind}; pending: ${this.run!.pending.map((p) => p.key).join(", ")}`);
    return e;
  }

  job(kind: "plan" | "build" | "scrutiny" | "review", reviewer?: string): Extract<Effect, { kind: "dispatchJob" }> {
    const e = this.run!.pending.find(
      (p) => p.kind === "dispatchJob" && p.job.kind === kind && (reviewer === undefined || (p.job.kind === "review" && p.job.reviewer === reviewer)),
    );
    if (!e || e.kind !== "dispatchJob") throw new Error(`no pending ${kind} job`);
    return e;
  }

  answerJob(kind: "plan" | "build" | "scrutiny" | "review", output: JobOutput): Effect[] {
    const e = this.job(kind, output.kind === "review" ? output.review.reviewer : undefined);
    return this.step({ type: "job.succeeded", runId, at, key: e.key, jobId: e.job.jobId, output });
  }

  /** From nothing to a run whose both subtasks are built and scrutiny is dispatched. */
  toScrutiny(config: RepoConfig = defaultRepoConfig): void {
    this.step(requested);
    this.step({ type: "config.loaded", runId, at, key: this.pending("loadConfig").key, config, defaultBranch: "main" });
    this.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    this.answerJob("build", { kind: "build", result: result("sha1") });
    this.answerJob("build", { kind: "build", result: result("sha2") });
  }

  /** Answer reviewer `rN` of the current round. */
  review(reviewer: string, verdict: Review["verdict"], findings: Finding[] = [], extra: Partial<Review> = {}): Effect[] {
    const job = this.job("review", reviewer).job;
    const review: Review = {
      verdict,
      summary: `${reviewer} says ${verdict}`,
      confidence: 0.9,
      findings,
      assertionChecks: [{ id: "A2", holds: true, evidence: "README has a farewell section" }],
      reviewer,
      route: job.kind === "review" ? job.route! : "?",
      headSha: this.run!.headSha!,
      onDiff: findings.map(() => true),
      usage: [{ provider: "openai", model: "gpt-5", inputTokens: 50, outputTokens: 10, cachedTokens: 0, costUsd: 0.0005 }],
      trace: [],
      ...extra,
    };
    return this.answerJob("review", { kind: "review", review });
  }

  ci(checks: NonNullable<Run["ci"]>): Effect[] {
    return this.step({ type: "ci.read", runId, at, key: this.pending("readCi").key, checks });
  }

  /** From scrutiny to an open PR under review. */
  toReview(exitCode = 0, config: RepoConfig = defaultRepoConfig): void {
    this.toScrutiny(config);
    this.scrutiny(exitCode);
    this.step({ type: "pr.opened", runId, at, key: this.pending("openPullRequest").key, number: 12, url: "https://x/pull/12" });
  }

  scrutiny(exitCode: number): void {
    this.answerJob("scrutiny", {
      kind: "scrutiny",
      commands: [{ name: "test", cmd: "npm test", exitCode, ms: 900, timedOut: false, outputTail: exitCode ? "1 failing" : "ok" }],
      integrity: cleanIntegrity,
    });
  }
}

export const cleanIntegrity = { deletedTests: [], newSkips: [], testCountBase: 3, testCountHead: 4, protectedTouched: [], conflicts: [] };

import {
  severityRank,
  terminalPhases,
  type Effect,
  type Event,
  type Failure,
  type Finding,
  type Job,
  type JobOutput,
  type Review,
  type Run,
  type Usage,
} from "../domain/index.js";
import { evaluateGate } from "./gate.js";
import { checkBudget } from "./budget.js";
import { defaultRetryPolicy, type RetryPolicy } from "./retry.js";
import { gateAnnotations, renderGateSummary, renderHandoff, renderProgress } from "./render.js";

export interface MachineSettings {
  retry: RetryPolicy;
  /** The label put on an escalated issue. */
  blockedLabel: string;
  /**
   * While a run works, its progress comment is written at most once per this many milliseconds
   * (default 30 s): each write is a rate-limited GitHub write and a notification-worthy edit, and
   * Mission Control shows the live state. What a person must act on is written at once.
   */
  progressEveryMs?: number;
}

export interface Decision {
  run: Run | undefined;
  effects: Effect[];
  /** Why nothing happened, for the journal, when the event was ignored. */
  note?: string;
}

export const defaultMachineSettings: MachineSettings = { retry: defaultRetryPolicy, blockedLabel: "agent:blocked", progressEveryMs: 30_000 };

/** The machine's settings from the process's (config/settings.ts), the same for the App and `shopfloor run`. */
export function machineSettingsFrom(s: { maxAttempts: number; retryBaseDelayMs: number; progressEveryMs: number }): MachineSettings {
  return {
    retry: { ...defaultRetryPolicy, maxAttempts: s.maxAttempts, baseDelayMs: s.retryBaseDelayMs },
    blockedLabel: defaultMachineSettings.blockedLabel,
    progressEveryMs: s.progressEveryMs,
  };
}

/** Phases in which the run is still working: their progress updates are coalesced, not written one by one. */
const workingPhases: readonly Run["phase"][] = ["configuring", "planning", "building", "scrutiny", "publishing", "reviewing", "awaiting_ci"];
export const isWorking = (phase: Run["phase"]): boolean => workingPhases.includes(phase);

export function planJob(run: Run, attempt: number): Extract<Job, { kind: "plan" }> {
  return {
    kind: "plan",
    jobId: `${run.id}:plan:${gen(run)}a${attempt}`,
    runId: run.id,
    repo: run.repo,
    attempt,
    defaultBranch: run.defaultBranch!,
    issue: run.issue,
    ...((run.modelOverride ?? run.config!.models.planner) !== undefined && { route: (run.modelOverride ?? run.config!.models.planner)! }),
  };
}

export function buildJob(run: Run, subtaskId: string, attempt: number): Job {
  const subtask = run.plan!.subtasks.find((s) => s.id === subtaskId)!;
  const models = run.config!.models;
  const route = run.modelOverride ?? (subtask.role === "test" ? models.tester : subtask.role === "review" ? models.reviewer : models.generator);
  const runtime = subtask.role === "test" ? run.config!.runtimes.tester : subtask.role === "generate" ? run.config!.runtimes.generator : undefined;
  return {
    kind: "build",
    jobId: `${run.id}:build:${subtaskId}:${gen(run)}a${attempt}`,
    runId: run.id,
    repo: run.repo,
    attempt,
    fromSha: run.headSha!,
    baseSha: run.baseSha!,
    branch: run.branch,
    subtask,
    plan: run.plan!,
    issue: { number: run.issue.number, title: run.issue.title },
    ...(route !== undefined && { route }),
    ...(runtime !== undefined && { runtime }),
    allowedCommands: [run.config!.commands.lint, run.config!.commands.test ?? ""].filter((c) => c.trim() !== ""),
    setup: setupOf(run),
    integrate: run.config!.parallel,
  };
}

/** The setup phase's part of the repository's config. */
function setupOf(run: Run): { install?: string; allow: string[] } {
  const install = run.config!.commands.install;
  return { ...(install !== undefined && { install }), allow: run.config!.network?.allow ?? [] };
}

/** The repo's lint and test, then every contract command not already among them; setup comes first on the runner. */
export function scrutinyJob(run: Run, attempt: number): Job {
  const c = run.config!.commands;
  const commands: { name: string; cmd: string }[] = (["lint", "test"] as const)
    .filter((name) => (c[name] ?? "").trim() !== "")
    .map((name) => ({ name, cmd: c[name]! }));
  for (const a of run.plan?.contract.assertions ?? []) {
    if (a.check.kind === "command" && !commands.some((x) => x.cmd === (a.check as { command: string }).command)) {
      commands.push({ name: `contract ${a.id}`, cmd: a.check.command });
    }
  }
  return {
    kind: "scrutiny",
    jobId: `${run.id}:scrutiny:r${run.reviewRound}f${run.fixRounds + run.ciFixes + run.scrutinyFixes}:${gen(run)}a${attempt}`,
    runId: run.id,
    repo: run.repo,
    attempt,
    headSha: run.headSha!,
    commands,
    setup: setupOf(run),
    detectTest: c.test === undefined,
    // In parallel mode results land in any order: test whatever the branch holds now.
    ...(run.config!.parallel && { branch: run.branch }),
    ...(run.baseSha !== undefined && { baseSha: run.baseSha }),
    ...(run.defaultBranch !== undefined && { defaultBranch: run.defaultBranch }),
    protectedPaths: run.config!.protectedPaths,
  };
}

export function reviewJob(run: Run, reviewer: string, route: string, round: number, attempt: number): Job {
  const prior = run.reviews.flatMap((r) => r.findings);
  return {
    kind: "review",
    jobId: `${run.id}:review:${reviewer}:r${round}:${gen(run)}a${attempt}`,
    runId: run.id,
    repo: run.repo,
    attempt,
    baseSha: run.baseSha!,
    headSha: run.headSha!,
    reviewer,
    route,
    plan: run.plan!,
    round,
    priorFindings: prior,
  };
}

export function routeOfReviewer(run: Run, reviewer: string): string {
  const index = Number(reviewer.replace(/^r/, "")) - 1;
  return run.config!.review.reviewers[index] ?? run.config!.review.reviewers[0]!;
}

/** A plan re-asked after a rejection keeps the checker's objections on its transient retries. */
export function feedbackOf(run: Run, kind: string, jobId: string): { feedback?: string[] } {
  if (kind !== "plan") return {};
  const pending = run.pending.find((e) => e.kind === "dispatchJob" && e.job.jobId === jobId);
  return pending?.kind === "dispatchJob" && pending.job.kind === "plan" && pending.job.feedback ? { feedback: pending.job.feedback } : {};
}

export const jobKind = (jobId: string): string => jobId.slice(jobId.lastIndexOf("#")).split(":")[1]!;
export const subtaskOf = (jobId: string): string => jobId.slice(jobId.lastIndexOf("#")).split(":")[2]!;
export const attemptOf = (jobId: string): number => Number(/:(?:g\d+)?a(\d+)$/.exec(jobId)?.[1] ?? 1);
/** Jobs after a person's `/retry` carry its generation, so their ids and attempts start afresh. */
const gen = (run: Run): string => (run.generation > 0 ? `g${run.generation}` : "");

/** `shopfloor/<issue>-<slug>`: deterministic, so a re-run finds the same branch. */
export function runBranch(issue: number, title: string): string {
  const slug = title
    .toLowerCase()
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/g, "");
  return `shopfloor/${issue}${slug ? `-${slug}` : ""}`;
}

export type EffectInput = Effect extends infer E ? (E extends Effect ? Omit<E, "key"> : never) : never;

/** Accumulates one decision: updates to the notes and the effects, each with a fresh key. */
export class Step {
  effects: Effect[] = [];
  constructor(
    public run: Run,
    readonly settings: MachineSettings,
    readonly at: string,
  ) {}

  update(patch: Partial<Run>): void {
    this.run = { ...this.run, ...patch };
  }

  setSubtask(id: string, patch: Partial<Run["subtasks"][string]>): void {
    this.update({ subtasks: { ...this.run.subtasks, [id]: { ...this.run.subtasks[id]!, ...patch } } });
  }

  addUsage(usage: readonly Usage[], role: string): void {
    if (usage.length > 0) this.update({ usage: [...this.run.usage, ...usage.map((u) => ({ ...u, role, at: this.at }))] });
  }

  recordAttempt(jobId: string, task: string, failure: Failure): void {
    this.update({ attempts: [...this.run.attempts, { jobId, task, at: this.at, failure }] });
  }

  emit(effect: EffectInput): void {
    const seq = this.run.effectSeq + 1;
    const keyed = { ...effect, key: `${this.run.id}:${effect.kind}:${seq}` } as Effect;
    this.run = { ...this.run, effectSeq: seq, pending: [...this.run.pending, keyed] };
    this.effects.push(keyed);
  }

  /**
   * Dispatch a job if the budget allows it; a model job carries the most it may spend.
   * Returns false when the run escalated instead.
   */
  dispatch(job: Job, notBefore?: string): boolean {
    let capped = job;
    if (job.kind !== "scrutiny") {
      const reserved = { usd: 0, tokens: 0 };
      for (const e of this.run.pending) {
        if (e.kind === "dispatchJob" && e.job.cap) {
          reserved.usd += e.job.cap.usd;
          reserved.tokens += e.job.cap.tokens;
        }
      }
      const budget = checkBudget(this.run.config!.budget, this.run.usage, reserved);
      if (!budget.ok) {
        this.escalate(
          { class: "permanent", reason: "budget_exhausted", detail: budget.why! },
          `The run has spent $${budget.spent.usd.toFixed(2)} and ${budget.spent.tokens} tokens. Raise the budget and retry, or take over?`,
        );
        return false;
      }
      capped = { ...job, cap: budget.cap };
    }
    if (capped.kind === "build") {
      const prior = this.run.subtasks[capped.subtask.id]!;
      this.setSubtask(capped.subtask.id, { status: "running", attempts: prior.attempts + 1 });
    }
    if (this.run.retryNote && capped.reflection === undefined) capped = { ...capped, reflection: this.run.retryNote };
    const role = capped.kind === "plan" ? "planner" : capped.kind === "review" ? "reviewer" : capped.kind === "build" ? ({ generate: "generator", test: "tester", review: "reviewer" } as const)[capped.subtask.role] : undefined;
    const limits = role ? this.run.config?.agents[role] : undefined;
    if (limits && capped.kind !== "scrutiny") capped = { ...capped, limits };
    this.emit({ kind: "dispatchJob", job: capped, at: this.at, ...(notBefore !== undefined && { notBefore }) });
    return true;
  }

  /**
   * Show the run's state in its progress comment. The first write (which creates the comment)
   * and a state a person reads to act on (waiting, paused, finished) go at once. Updates while the
   * run works are coalesced: a newer body replaces an update not yet written, keeping its time,
   * and otherwise waits `progressEveryMs` — so a run that finishes within that window writes its
   * comment twice, and the last write is always the final state.
   */
  progress(): void {
    const body = renderProgress(this.run);
    const waiting = this.run.pending.filter((e) => e.kind === "upsertProgressComment");
    const created = this.run.progressCommentId !== undefined;
    // Once the comment exists any older update may go (one already on its way then answers nothing);
    // before that only those still waiting their turn, never the one creating it: that would post a second.
    const replaced = waiting.filter((e) => created || (e.notBefore !== undefined && e.notBefore > this.at));
    if (replaced.length > 0) this.update({ pending: this.run.pending.filter((e) => !replaced.some((r) => r.key === e.key)) });
    const first = !created && waiting.length === 0;
    if (first || !isWorking(this.run.phase)) {
      this.emit({ kind: "upsertProgressComment", body });
      return;
    }
    const every = this.settings.progressEveryMs ?? defaultMachineSettings.progressEveryMs!;
    const turn = replaced.map((e) => e.notBefore).find((t) => t !== undefined && t > this.at);
    this.emit({ kind: "upsertProgressComment", body, notBefore: turn ?? new Date(Date.parse(this.at) + every).toISOString() });
  }

  /** The gate as it stands, `in_progress` on the head commit. */
  publishGate(): void {
    const verdict = evaluateGate(this.run);
    const { title, summary } = renderGateSummary({ ...verdict, conclusion: "pending" }, this.run);
    this.update({ gate: { items: verdict.items }, gateSha: this.run.headSha! });
    this.emit({ kind: "publishGate", headSha: this.run.headSha!, title, summary, annotations: [], actions: [] });
  }

  /**
   * A stop reaches the workers: jobs in flight leave the notes (so their answers change nothing)
   * and are told to stop, and CI is no longer read. Reviews already decided are still posted on
   * an escalation (the handoff points at them) but not after a person ended the run (`ended`).
   */
  stopWork(reason: string, ended = false): void {
    const jobs = this.run.pending.filter((e): e is Extract<Effect, { kind: "dispatchJob" }> => e.kind === "dispatchJob");
    const dropped = new Set(["dispatchJob", "readCi", ...(ended ? ["postReview"] : [])]);
    const subtasks = Object.fromEntries(Object.entries(this.run.subtasks).map(([id, s]) => [id, s.status === "running" ? { ...s, status: "pending" as const } : s]));
    this.update({
      pending: this.run.pending.filter((e) => !dropped.has(e.kind)),
      stoppedJobs: [...this.run.stoppedJobs, ...jobs.map((j) => j.key)].slice(-50),
      subtasks,
    });
    if (jobs.length > 0) this.emit({ kind: "stopJobs", jobIds: jobs.map((j) => j.job.jobId), reason });
  }

  /** Stop and hand a person everything: label, owners, the handoff comment, and the gate `action_required`. */
  escalate(failure: Failure, question: string): void {
    this.stopWork(`escalated: ${failure.reason}`);
    this.update({ phase: "escalated", failure, question });
    this.emit({ kind: "addLabels", labels: [this.settings.blockedLabel] });
    const owners = this.run.config?.owners ?? [];
    if (owners.length > 0) this.emit({ kind: "assignOwners", owners });
    this.emit({ kind: "postHandoff", body: renderHandoff(this.run) });
    const sha = this.run.headSha ?? this.run.baseSha;
    if (sha) {
      const verdict = evaluateGate(this.run);
      const { summary } = renderGateSummary(verdict, this.run);
      this.update({ gate: { conclusion: "action_required", items: verdict.items } });
      this.emit({
        kind: "publishGate",
        headSha: sha,
        conclusion: "action_required",
        title: `Escalated: ${failure.reason}`,
        summary,
        annotations: gateAnnotations(this.run),
        actions: ["retry"],
      });
    }
    this.progress();
  }
}

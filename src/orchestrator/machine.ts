import {
  terminalPhases,
  type Effect,
  type Event,
  type Failure,
  type Job,
  type JobOutput,
  type Run,
  type Subtask,
  type Usage,
} from "../domain/index.js";
import { checkPlan, topologicalOrder } from "./plan-check.js";
import { evaluateGate } from "./gate.js";
import { renderConfigError, renderGateSummary, renderProgress, renderPullRequestBody } from "./render.js";

export interface MachineSettings {
  /** Attempts per job for transient failures (timeouts, rate limits, lost workers). */
  maxAttempts: number;
}

export const defaultMachineSettings: MachineSettings = { maxAttempts: 3 };

export interface Decision {
  run: Run | undefined;
  effects: Effect[];
  /** Why nothing happened, for the journal, when the event was ignored. */
  note?: string;
}

/**
 * The engine's brain: a pure function from (notes, event) to (new notes, effects).
 * No I/O, no clock, no randomness; time and ids arrive on the event.
 */
export function decide(run: Run | undefined, event: Event, settings: MachineSettings = defaultMachineSettings): Decision {
  if (event.type === "run.requested") return requested(run, event);
  if (!run) return { run, effects: [], note: `no run for ${event.type}` };
  if (!run.pending.some((e) => e.key === event.key)) {
    return { run, effects: [], note: `${event.type} answers ${event.key}, which is not pending (a repeat)` };
  }
  const answered: Run = { ...run, pending: run.pending.filter((e) => e.key !== event.key), updatedAt: event.at };
  const step = new Step(answered);
  switch (event.type) {
    case "config.loaded": {
      step.update({ config: event.config, defaultBranch: event.defaultBranch, phase: "planning" });
      step.dispatch(planJob(step.run, 1));
      step.progress();
      break;
    }
    case "config.invalid": {
      step.update({ phase: "rejected" });
      step.emit({ kind: "postConfigError", body: renderConfigError(run.id, event.errors) });
      break;
    }
    case "comment.upserted":
      if (event.commentId !== undefined) step.update({ progressCommentId: event.commentId });
      break;
    case "job.succeeded":
      jobSucceeded(step, event.jobId, event.output);
      break;
    case "job.failed":
      jobFailed(step, event.jobId, event.failure, event.usage, settings);
      break;
    case "pr.opened": {
      step.update({ pr: { number: event.number, url: event.url } });
      const verdict = evaluateGate(step.run);
      const { title, summary } = renderGateSummary(verdict);
      step.update({ gate: { conclusion: verdict.conclusion, items: verdict.items } });
      step.emit({ kind: "publishGate", headSha: step.run.headSha!, conclusion: verdict.conclusion, title, summary });
      break;
    }
    case "gate.published": {
      step.update({ phase: "gated", gate: { ...step.run.gate!, checkRunId: event.checkRunId } });
      step.progress();
      break;
    }
    case "effect.failed": {
      const effect = run.pending.find((e) => e.key === event.key)!;
      // A missed progress update is repaired by the next one; anything else stops the run.
      if (effect.kind !== "upsertProgressComment") step.fail(event.failure);
      break;
    }
  }
  return { run: step.run, effects: step.effects };
}

function requested(run: Run | undefined, event: Extract<Event, { type: "run.requested" }>): Decision {
  if (run && !terminalPhases.includes(run.phase)) {
    return { run, effects: [], note: `run already ${run.phase}; label applied again` };
  }
  const fresh: Run = {
    id: event.runId,
    repo: event.repo,
    issue: event.issue,
    requestedBy: event.sender,
    deliveryId: event.deliveryId,
    createdAt: event.at,
    updatedAt: event.at,
    phase: "configuring",
    branch: runBranch(event.issue.number, event.issue.title),
    subtasks: {},
    usage: [],
    pending: [],
    // Keys keep counting across runs of the same issue so that no key is ever reused.
    effectSeq: run?.effectSeq ?? 0,
    ...(run?.progressCommentId !== undefined && { progressCommentId: run.progressCommentId }),
  };
  const step = new Step(fresh);
  step.emit({ kind: "loadConfig" });
  return { run: step.run, effects: step.effects };
}

function jobSucceeded(step: Step, jobId: string, output: JobOutput): void {
  const run = step.run;
  if (output.kind === "plan") {
    step.update({ usage: [...run.usage, ...output.usage.map((u) => ({ ...u, role: "planner" }))] });
    const errors = checkPlan(output.plan);
    if (errors.length > 0) {
      step.fail({ class: "permanent", reason: "invalid_output", detail: `the plan failed its checks: ${errors.join("; ")}` });
      return;
    }
    const subtasks = Object.fromEntries(output.plan.subtasks.map((s) => [s.id, { status: "pending" as const, attempts: 0 }]));
    step.update({ plan: output.plan, baseSha: output.baseSha, headSha: output.baseSha, subtasks, phase: "building" });
    dispatchNext(step);
    step.progress();
    return;
  }
  if (output.kind === "build") {
    const subtaskId = subtaskOf(jobId);
    const result = output.result;
    const subtask = run.plan!.subtasks.find((s) => s.id === subtaskId)!;
    step.update({
      usage: [...run.usage, ...result.usage.map((u) => ({ ...u, role: subtask.role }))],
      subtasks: { ...run.subtasks, [subtaskId]: { ...run.subtasks[subtaskId]!, status: result.status, result } },
    });
    if (result.status !== "ok") {
      step.fail({ class: "permanent", reason: "blocked", detail: `subtask ${subtaskId} reported ${result.status}: ${result.summary}` });
      return;
    }
    step.update({ headSha: result.artifact.headSha });
    dispatchNext(step);
    step.progress();
    return;
  }
  step.update({ scrutiny: output.commands });
  if (run.headSha === run.baseSha) {
    step.fail({ class: "permanent", reason: "no_change", detail: "the workers finished without changing any file" });
    return;
  }
  step.update({ phase: "publishing" });
  step.emit({
    kind: "openPullRequest",
    head: run.branch,
    base: run.defaultBranch!,
    title: run.issue.title,
    body: renderPullRequestBody(step.run),
  });
}

function jobFailed(step: Step, jobId: string, failure: Failure, usage: readonly Usage[], settings: MachineSettings): void {
  const run = step.run;
  const kind = jobKind(jobId);
  const role = kind === "plan" ? "planner" : kind === "scrutiny" ? "scrutiny" : (run.plan?.subtasks.find((s) => s.id === subtaskOf(jobId))?.role ?? "worker");
  step.update({ usage: [...run.usage, ...usage.map((u) => ({ ...u, role }))] });
  const attempt = attemptOf(jobId);
  if (failure.class === "transient" && attempt < settings.maxAttempts) {
    const again = kind === "plan" ? planJob(step.run, attempt + 1) : kind === "scrutiny" ? scrutinyJob(step.run, attempt + 1) : buildJob(step.run, subtaskOf(jobId), attempt + 1);
    step.dispatch(again);
    return;
  }
  if (kind === "build") {
    const id = subtaskOf(jobId);
    step.update({ subtasks: { ...step.run.subtasks, [id]: { ...step.run.subtasks[id]!, status: "failed", failure } } });
  }
  step.fail(failure);
}

/** Serial by default: the next pending subtask in dependency order, or scrutiny when all are done. */
function dispatchNext(step: Step): void {
  const order = topologicalOrder(step.run.plan!.subtasks)!;
  const next = order.find((s) => step.run.subtasks[s.id]?.status === "pending");
  if (next) {
    step.dispatch(buildJob(step.run, next.id, 1));
    return;
  }
  step.update({ phase: "scrutiny" });
  step.dispatch(scrutinyJob(step.run, 1));
}

function planJob(run: Run, attempt: number): Job {
  return {
    kind: "plan",
    jobId: `${run.id}:plan:a${attempt}`,
    runId: run.id,
    repo: run.repo,
    attempt,
    defaultBranch: run.defaultBranch!,
    issue: run.issue,
    ...(run.config!.models.planner !== undefined && { route: run.config!.models.planner }),
  };
}

function buildJob(run: Run, subtaskId: string, attempt: number): Job {
  const subtask: Subtask = run.plan!.subtasks.find((s) => s.id === subtaskId)!;
  const route = subtask.role === "test" ? run.config!.models.tester : subtask.role === "review" ? run.config!.models.reviewer : run.config!.models.generator;
  return {
    kind: "build",
    jobId: `${run.id}:build:${subtaskId}:a${attempt}`,
    runId: run.id,
    repo: run.repo,
    attempt,
    fromSha: run.headSha!,
    branch: run.branch,
    subtask,
    plan: run.plan!,
    issue: { number: run.issue.number, title: run.issue.title },
    ...(route !== undefined && { route }),
  };
}

function scrutinyJob(run: Run, attempt: number): Job {
  const c = run.config!.commands;
  const commands = (["install", "lint", "test"] as const).filter((name) => c[name].trim() !== "").map((name) => ({ name, cmd: c[name] }));
  return { kind: "scrutiny", jobId: `${run.id}:scrutiny:a${attempt}`, runId: run.id, repo: run.repo, attempt, headSha: run.headSha!, commands };
}

const jobKind = (jobId: string): string => jobId.slice(jobId.lastIndexOf("#")).split(":")[1]!;
const subtaskOf = (jobId: string): string => jobId.slice(jobId.lastIndexOf("#")).split(":")[2]!;
const attemptOf = (jobId: string): number => Number(/:a(\d+)$/.exec(jobId)?.[1] ?? 1);

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

type EffectInput = Effect extends infer E ? (E extends Effect ? Omit<E, "key"> : never) : never;

/** Accumulates one decision: updates to the notes and the effects, each with a fresh key. */
class Step {
  effects: Effect[] = [];
  constructor(public run: Run) {}

  update(patch: Partial<Run>): void {
    this.run = { ...this.run, ...patch };
  }

  emit(effect: EffectInput): void {
    const seq = this.run.effectSeq + 1;
    const keyed = { ...effect, key: `${this.run.id}:${effect.kind}:${seq}` } as Effect;
    this.run = { ...this.run, effectSeq: seq, pending: [...this.run.pending, keyed] };
    this.effects.push(keyed);
  }

  dispatch(job: Job): void {
    if (job.kind === "build") {
      const id = job.subtask.id;
      const prior = this.run.subtasks[id]!;
      this.update({ subtasks: { ...this.run.subtasks, [id]: { ...prior, status: "running", attempts: prior.attempts + 1 } } });
    }
    this.emit({ kind: "dispatchJob", job });
  }

  progress(): void {
    this.emit({ kind: "upsertProgressComment", body: renderProgress(this.run) });
  }

  fail(failure: Failure): void {
    this.update({ phase: "failed", failure });
    this.progress();
  }
}

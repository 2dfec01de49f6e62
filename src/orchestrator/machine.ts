import {
  terminalPhases,
  type Effect,
  type Event,
  type Failure,
  type Job,
  type JobOutput,
  type Run,
  type Usage,
  type Finding,
  type Review,
  severityRank,
} from "../domain/index.js";
import { checkPlan, topologicalOrder } from "./plan-check.js";
import { evaluateGate } from "./gate.js";
import { checkBudget } from "./budget.js";
import { defaultRetryPolicy, reflection, retryVerdict, type RetryPolicy } from "./retry.js";
import {
  gateAnnotations,
  renderConfigError,
  renderGateSummary,
  renderHandoff,
  renderProgress,
  renderPullRequestBody,
} from "./render.js";

export interface MachineSettings {
  retry: RetryPolicy;
  /** The label put on an escalated issue. */
  blockedLabel: string;
}

export const defaultMachineSettings: MachineSettings = { retry: defaultRetryPolicy, blockedLabel: "agent:blocked" };

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
  if (event.type === "plan.approved") return approved(run, event, settings);
  if (event.type === "ci.completed") return ciCompleted(run, event, settings);
  if (!run.pending.some((e) => e.key === event.key)) {
    return { run, effects: [], note: `${event.type} answers ${event.key}, which is not pending (a repeat)` };
  }
  const answeredEffect = run.pending.find((e) => e.key === event.key)!;
  const step = new Step({ ...run, pending: run.pending.filter((e) => e.key !== event.key), updatedAt: event.at }, settings, event.at);
  switch (event.type) {
    case "config.loaded":
      step.update({ config: event.config, defaultBranch: event.defaultBranch, phase: "planning" });
      if (step.dispatch(planJob(step.run, 1))) step.progress();
      break;
    case "config.invalid":
      step.update({ phase: "rejected" });
      step.emit({ kind: "postConfigError", body: renderConfigError(run.id, event.errors) });
      break;
    case "comment.upserted":
      if (event.commentId !== undefined) step.update({ progressCommentId: event.commentId });
      break;
    case "effect.done":
      break;
    case "job.succeeded":
      jobSucceeded(step, event.jobId, event.output);
      break;
    case "job.failed":
      jobFailed(step, event.jobId, event.failure, event.usage, event.jitter ?? 0.5);
      break;
    case "pr.opened":
      step.update({ pr: { number: event.number, url: event.url } });
      startReviewRound(step);
      break;
    case "gate.published": {
      step.update({ gate: { ...step.run.gate!, checkRunId: event.checkRunId } });
      const conclusion = step.run.gate?.conclusion;
      if (conclusion === undefined || step.run.phase === "escalated") break;
      step.update({ phase: "gated" });
      if (conclusion === "success") {
        step.emit({ kind: "markReady", pullNumber: step.run.pr!.number });
        const owners = step.run.config!.owners;
        if (owners.length > 0) step.emit({ kind: "requestReviewers", pullNumber: step.run.pr!.number, logins: owners });
      }
      step.progress();
      break;
    }
    case "ci.read":
      ciRead(step, event.checks);
      break;
    case "effect.failed":
      effectFailed(step, answeredEffect, event.failure, event.jitter ?? 0.5);
      break;
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
    attempts: [],
    planRejections: 0,
    reviewRound: 0,
    reviews: [],
    fixRounds: 0,
    ciFixes: 0,
    pending: [],
    // Keys keep counting across runs of the same issue so that no key is ever reused.
    effectSeq: run?.effectSeq ?? 0,
    ...(run?.progressCommentId !== undefined && { progressCommentId: run.progressCommentId }),
  };
  const step = new Step(fresh, defaultMachineSettings, event.at);
  step.emit({ kind: "loadConfig" });
  return { run: step.run, effects: step.effects };
}

function approved(run: Run, event: Extract<Event, { type: "plan.approved" }>, settings: MachineSettings): Decision {
  if (run.phase !== "awaiting_approval") return { run, effects: [], note: `nothing to approve while ${run.phase}` };
  const step = new Step({ ...run, approvedBy: event.by, phase: "building", updatedAt: event.at }, settings, event.at);
  if (dispatchNext(step)) step.progress();
  return { run: step.run, effects: step.effects };
}

function jobSucceeded(step: Step, jobId: string, output: JobOutput): void {
  const run = step.run;
  if (output.kind === "plan") {
    step.addUsage(output.usage, "planner");
    const errors = checkPlan(output.plan);
    if (errors.length > 0) {
      const rejections = run.planRejections + 1;
      step.update({ planRejections: rejections });
      const failure: Failure = { class: "permanent", reason: "invalid_output", detail: `the plan failed its checks: ${errors.join("; ")}` };
      step.recordAttempt(jobId, "plan", failure);
      // One re-ask with the checker's objections in the brief; a second bad plan goes to a person.
      if (rejections > 1) return step.escalate(failure, "The planner could not produce a plan that passes the checks twice. Should the issue be split or clarified?");
      step.dispatch({ ...planJob(step.run, attemptOf(jobId) + 1), feedback: errors });
      return;
    }
    const subtasks = Object.fromEntries(output.plan.subtasks.map((s) => [s.id, { status: "pending" as const, attempts: 0 }]));
    step.update({ plan: output.plan, baseSha: output.baseSha, headSha: output.baseSha, subtasks });
    if (output.plan.risk === "high" || run.config!.approval.always) {
      step.update({ phase: "awaiting_approval" });
      step.progress();
      return;
    }
    step.update({ phase: "building" });
    if (dispatchNext(step)) step.progress();
    return;
  }
  if (output.kind === "build") {
    const subtaskId = subtaskOf(jobId);
    const result = output.result;
    const subtask = run.plan!.subtasks.find((s) => s.id === subtaskId)!;
    step.addUsage(result.usage, subtask.role);
    step.setSubtask(subtaskId, { status: result.status, result });
    if (result.status !== "ok") {
      return step.escalate(
        { class: "permanent", reason: "blocked", detail: `subtask ${subtaskId} reported ${result.status}: ${result.summary}` },
        `The ${subtask.role} worker on "${subtask.title}" could not finish. What should it do differently, or should a person take over?`,
      );
    }
    const threshold = run.config!.confidence.threshold;
    if (result.confidence < threshold) {
      step.setSubtask(subtaskId, { status: "blocked" });
      return step.escalate(
        { class: "permanent", reason: "low_confidence", detail: `subtask ${subtaskId} finished with confidence ${result.confidence} (threshold ${threshold})` },
        `The worker on "${subtask.title}" is not sure its change is right. Is it?`,
      );
    }
    step.update({ headSha: result.artifact.headSha });
    if (dispatchNext(step)) step.progress();
    return;
  }
  if (output.kind === "review") {
    reviewArrived(step, output.review);
    return;
  }
  step.update({ scrutiny: output.commands, ...(output.integrity && { integrity: output.integrity }) });
  if (run.headSha === run.baseSha) {
    return step.escalate({ class: "permanent", reason: "no_change", detail: "the workers finished without changing any file" }, "The workers changed nothing. Is the issue already resolved, or does it need a clearer brief?");
  }
  if (run.pr) {
    // A fix round pushed to the same branch: the PR follows; review the new head.
    startReviewRound(step);
    return;
  }
  step.update({ phase: "publishing" });
  step.emit({ kind: "openPullRequest", head: run.branch, base: run.defaultBranch!, title: run.issue.title, body: renderPullRequestBody(step.run) });
}

/** Reviewers read the head with fresh context, in parallel; the gate shows `in_progress` meanwhile. */
function startReviewRound(step: Step): void {
  const round = step.run.reviewRound + 1;
  step.update({ phase: "reviewing", reviewRound: round, reviews: [], ci: undefined });
  step.publishGate();
  const reviewers = step.run.config!.review.reviewers;
  for (const [i, route] of reviewers.entries()) {
    if (!step.dispatch(reviewJob(step.run, `r${i + 1}`, route, round, 1))) return;
  }
  step.progress();
}

function reviewArrived(step: Step, review: Review): void {
  const run = step.run;
  step.addUsage(review.usage, "reviewer");
  step.update({ reviews: [...run.reviews.filter((r) => r.reviewer !== review.reviewer), review] });
  step.emit({
    kind: "postReview",
    pullNumber: run.pr!.number,
    headSha: review.headSha,
    reviewer: review.reviewer,
    round: run.reviewRound,
    title: `Review by ${review.route}: ${review.verdict === "approve" ? "approve" : "changes requested"}`,
    summary: review.summary,
    findings: review.findings.map((f, i) => ({ ...f, onDiff: review.onDiff[i] ?? false })),
  });
  const config = run.config!.review;
  if (step.run.reviews.length < config.reviewers.length) return;
  const threshold = severityRank[config.blockingSeverity];
  const reviews = step.run.reviews;
  const blockingFindings = reviews.flatMap((r) => r.findings.filter((f) => severityRank[f.severity] >= threshold));
  const blocked = blockingFindings.length > 0 || reviews.some((r) => r.verdict !== "approve");
  if (!blocked) {
    step.update({ phase: "awaiting_ci" });
    step.emit({ kind: "readCi", headSha: step.run.headSha! });
    return;
  }
  const disagree = new Set(reviews.map((r) => r.verdict)).size > 1;
  if (disagree && config.onDisagreement === "escalate") {
    return step.escalate({ class: "permanent", reason: "failed_review", detail: "the reviewers disagree" }, "The reviewers disagree (see the gate summary). Which view is right?");
  }
  if (step.run.fixRounds >= config.fixRounds) {
    const worst = blockingFindings.map((f) => `${f.severity} at ${f.file}:${f.line}: ${f.body}`).join("; ") || "changes requested";
    return step.escalate(
      { class: "permanent", reason: "failed_review", detail: `after ${step.run.fixRounds} fix round(s): ${worst}` },
      "The review still blocks after the fix round. Should a person take over, or is a finding wrong?",
    );
  }
  const findings = reviews.flatMap((r) => r.findings.filter((f) => severityRank[f.severity] >= severityRank.medium || r.verdict !== "approve"));
  step.update({ fixRounds: step.run.fixRounds + 1 });
  addFixSubtask(step, `fix-r${step.run.fixRounds}`, "Address the review findings", reviewBrief(reviews, findings), findings.map((f) => f.file));
}

function reviewBrief(reviews: readonly Review[], findings: readonly Finding[]): string {
  const lines = ["The reviewers of this change asked for changes. Address every finding below, then run the tests.", ""];
  for (const r of reviews) lines.push(`- ${r.route}: ${r.verdict} — ${r.summary.slice(0, 500)}`);
  lines.push("", "Findings:");
  for (const f of findings) lines.push(`- [${f.severity}] ${f.file}:${f.line} — ${f.body.slice(0, 1000)}`);
  return lines.join("\n");
}

/** A generator subtask appended to the plan, starting from the current tip, then scrutiny and review again. */
function addFixSubtask(step: Step, id: string, title: string, brief: string, files: readonly string[]): void {
  const plan = step.run.plan!;
  const subtask = {
    id,
    role: "generate" as const,
    title,
    brief,
    files: [...new Set(files)],
    dependsOn: plan.subtasks.map((s) => s.id),
    assertions: [],
  };
  step.update({
    phase: "building",
    plan: { ...plan, subtasks: [...plan.subtasks.filter((s) => s.id !== id), subtask] },
    subtasks: { ...step.run.subtasks, [id]: { status: "pending", attempts: 0 } },
  });
  if (dispatchNext(step)) step.progress();
}

function ciRead(step: Step, checks: Run["ci"] & object): void {
  step.update({ ci: checks });
  if (step.run.phase !== "awaiting_ci") return;
  const red = checks.filter((c) => c.status === "completed" && !["success", "neutral", "skipped"].includes(c.conclusion ?? ""));
  const running = checks.filter((c) => c.status !== "completed");
  if (red.length > 0) {
    const config = step.run.config!.ci;
    const quoted = red.map((c) => `- ${c.name} (${c.app}): ${c.conclusion}${c.url ? ` — ${c.url}` : ""}\n${c.details.slice(0, 3000)}`).join("\n");
    if (step.run.ciFixes >= config.fixAttempts) {
      return step.escalate(
        { class: "permanent", reason: "failed_review", detail: `the repository's CI failed after ${step.run.ciFixes} fix attempt(s):\n${quoted}` },
        "The repository's CI stays red. Is the failure related to this change?",
      );
    }
    step.update({ ciFixes: step.run.ciFixes + 1 });
    const brief = ["The repository's CI failed on this change. Make it pass without weakening any test.", "", "Failing checks:", quoted].join("\n");
    addFixSubtask(step, `ci-fix-${step.run.ciFixes}`, "Fix the failing CI", brief, []);
    return;
  }
  if (running.length > 0) return;
  concludeGate(step);
}

function ciCompleted(run: Run, event: Extract<Event, { type: "ci.completed" }>, settings: MachineSettings): Decision {
  if (run.phase !== "awaiting_ci" || event.headSha !== run.headSha) return { run, effects: [], note: `CI on ${event.headSha.slice(0, 12)} does not concern this run now` };
  if (run.pending.some((e) => e.kind === "readCi")) return { run, effects: [], note: "CI is already being read" };
  const step = new Step({ ...run, updatedAt: event.at }, settings, event.at);
  step.emit({ kind: "readCi", headSha: run.headSha! });
  return { run: step.run, effects: step.effects };
}

/** Everything is in: the gate concludes `success` or `failure` on the head commit. */
function concludeGate(step: Step): void {
  const verdict = evaluateGate(step.run);
  const conclusion = verdict.conclusion === "success" ? "success" : "failure";
  const { title, summary } = renderGateSummary({ ...verdict, conclusion }, step.run);
  step.update({ gate: { conclusion, items: verdict.items } });
  step.emit({
    kind: "publishGate",
    headSha: step.run.headSha!,
    conclusion,
    title,
    summary,
    annotations: gateAnnotations(step.run),
    actions: conclusion === "success" ? [] : ["retry", "escalate"],
  });
}

function jobFailed(step: Step, jobId: string, failure: Failure, usage: readonly Usage[], jitter: number): void {
  const run = step.run;
  const kind = jobKind(jobId);
  const task = kind === "build" ? `build:${subtaskOf(jobId)}` : kind === "review" ? `review:${subtaskOf(jobId)}` : kind;
  const role = kind === "plan" ? "planner" : kind === "scrutiny" ? "scrutiny" : kind === "review" ? "reviewer" : (run.plan?.subtasks.find((s) => s.id === subtaskOf(jobId))?.role ?? "worker");
  step.addUsage(usage, role);
  const previous = [...run.attempts].reverse().find((a) => a.task === task);
  const lastWasThisTask = run.attempts.at(-1)?.task === task;
  step.recordAttempt(jobId, task, failure);
  const attempt = attemptOf(jobId);
  const verdict = retryVerdict(failure, attempt, lastWasThisTask ? previous?.failure : undefined, jitter, step.settings.retry);
  if (verdict.retry) {
    const notBefore = new Date(Date.parse(step.at) + verdict.delayMs).toISOString();
    const again =
      kind === "plan"
        ? planJob(step.run, attempt + 1)
        : kind === "scrutiny"
          ? scrutinyJob(step.run, attempt + 1)
          : kind === "review"
            ? reviewJob(step.run, subtaskOf(jobId), routeOfReviewer(step.run, subtaskOf(jobId)), step.run.reviewRound, attempt + 1)
            : buildJob(step.run, subtaskOf(jobId), attempt + 1);
    step.dispatch({ ...again, reflection: reflection(failure, attempt), ...feedbackOf(run, kind, jobId) }, notBefore);
    return;
  }
  if (kind === "build") step.setSubtask(subtaskOf(jobId), { status: "failed", failure });
  step.escalate(
    { ...failure, detail: `${failure.detail} (${verdict.why})` },
    failure.class === "transient"
      ? `${task} kept failing for reasons outside the work itself (${failure.reason}). Retry later, or look at the infrastructure?`
      : `${task} failed and retrying would not help (${failure.reason}). What should change?`,
  );
}

function effectFailed(step: Step, effect: Effect, failure: Failure, jitter: number): void {
  // A missed progress update is repaired by the next one.
  if (effect.kind === "upsertProgressComment") return;
  const attempt = (step.run.attempts.filter((a) => a.task === `effect:${effect.kind}`).length ?? 0) + 1;
  const previous = [...step.run.attempts].reverse().find((a) => a.task === `effect:${effect.kind}`)?.failure;
  step.recordAttempt(effect.key, `effect:${effect.kind}`, failure);
  const verdict = retryVerdict(failure, attempt, previous, jitter, step.settings.retry);
  if (verdict.retry) {
    const { key: _old, notBefore: _was, ...again } = effect;
    step.emit({ ...again, notBefore: new Date(Date.parse(step.at) + verdict.delayMs).toISOString() } as EffectInput);
    return;
  }
  // The escalation's own effects failing must not escalate again in a loop.
  if (step.run.phase === "escalated") return;
  step.escalate({ ...failure, detail: `${effect.kind}: ${failure.detail} (${verdict.why})` }, `GitHub refused ${effect.kind}. Check the App's permissions and installation.`);
}

/** Serial by default; with `parallel`, every ready subtask whose files no running one touches. */
function dispatchNext(step: Step): boolean {
  const plan = step.run.plan!;
  const order = topologicalOrder(plan.subtasks)!;
  const done = (id: string) => step.run.subtasks[id]?.status === "ok";
  const running = order.filter((s) => step.run.subtasks[s.id]?.status === "running");
  const ready = order.filter((s) => step.run.subtasks[s.id]?.status === "pending" && s.dependsOn.every(done));
  if (running.length === 0 && ready.length === 0) {
    if (order.every((s) => done(s.id))) {
      step.update({ phase: "scrutiny" });
      step.dispatch(scrutinyJob(step.run, 1));
    }
    return true;
  }
  const parallel = step.run.config!.parallel;
  // In parallel mode each writer starts from the same tip, so only read-only subtasks may join a running writer.
  const readOnly = (id: string) => plan.subtasks.find((s) => s.id === id)!.role === "review";
  for (const next of ready) {
    const busyWriter = running.some((r) => !readOnly(r.id));
    if (running.length > 0 && !(parallel && (readOnly(next.id) || !busyWriter))) break;
    if (!step.dispatch(buildJob(step.run, next.id, 1))) return false;
    running.push(next);
    if (!parallel) break;
  }
  return true;
}

function planJob(run: Run, attempt: number): Extract<Job, { kind: "plan" }> {
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
  const subtask = run.plan!.subtasks.find((s) => s.id === subtaskId)!;
  const models = run.config!.models;
  const route = subtask.role === "test" ? models.tester : subtask.role === "review" ? models.reviewer : models.generator;
  const runtime = subtask.role === "test" ? run.config!.runtimes.tester : subtask.role === "generate" ? run.config!.runtimes.generator : undefined;
  return {
    kind: "build",
    jobId: `${run.id}:build:${subtaskId}:a${attempt}`,
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
    allowedCommands: Object.values(run.config!.commands).filter((c) => c.trim() !== ""),
  };
}

/** The repo's commands, then every contract command not already among them. */
function scrutinyJob(run: Run, attempt: number): Job {
  const c = run.config!.commands;
  const commands: { name: string; cmd: string }[] = (["install", "lint", "test"] as const)
    .filter((name) => c[name].trim() !== "")
    .map((name) => ({ name, cmd: c[name] }));
  for (const a of run.plan?.contract.assertions ?? []) {
    if (a.check.kind === "command" && !commands.some((x) => x.cmd === (a.check as { command: string }).command)) {
      commands.push({ name: `contract ${a.id}`, cmd: a.check.command });
    }
  }
  return {
    kind: "scrutiny",
    jobId: `${run.id}:scrutiny:r${run.reviewRound}f${run.fixRounds + run.ciFixes}:a${attempt}`,
    runId: run.id,
    repo: run.repo,
    attempt,
    headSha: run.headSha!,
    commands,
    ...(run.baseSha !== undefined && { baseSha: run.baseSha }),
    ...(run.defaultBranch !== undefined && { defaultBranch: run.defaultBranch }),
    protectedPaths: run.config!.protectedPaths,
  };
}

function reviewJob(run: Run, reviewer: string, route: string, round: number, attempt: number): Job {
  const prior = run.reviews.flatMap((r) => r.findings);
  return {
    kind: "review",
    jobId: `${run.id}:review:${reviewer}:r${round}:a${attempt}`,
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

function routeOfReviewer(run: Run, reviewer: string): string {
  const index = Number(reviewer.replace(/^r/, "")) - 1;
  return run.config!.review.reviewers[index] ?? run.config!.review.reviewers[0]!;
}

/** A plan re-asked after a rejection keeps the checker's objections on its transient retries. */
function feedbackOf(run: Run, kind: string, jobId: string): { feedback?: string[] } {
  if (kind !== "plan") return {};
  const pending = run.pending.find((e) => e.kind === "dispatchJob" && e.job.jobId === jobId);
  return pending?.kind === "dispatchJob" && pending.job.kind === "plan" && pending.job.feedback ? { feedback: pending.job.feedback } : {};
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
    if (usage.length > 0) this.update({ usage: [...this.run.usage, ...usage.map((u) => ({ ...u, role }))] });
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
      const budget = checkBudget(this.run.config!.budget, this.run.usage);
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
    this.emit({ kind: "dispatchJob", job: capped, ...(notBefore !== undefined && { notBefore }) });
    return true;
  }

  progress(): void {
    this.emit({ kind: "upsertProgressComment", body: renderProgress(this.run) });
  }

  /** The gate as it stands, `in_progress` on the head commit. */
  publishGate(): void {
    const verdict = evaluateGate(this.run);
    const { title, summary } = renderGateSummary({ ...verdict, conclusion: "pending" }, this.run);
    this.update({ gate: { items: verdict.items } });
    this.emit({ kind: "publishGate", headSha: this.run.headSha!, title, summary, annotations: [], actions: [] });
  }

  /** Stop and hand a person everything: label, owners, the handoff comment, and the gate `action_required`. */
  escalate(failure: Failure, question: string): void {
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

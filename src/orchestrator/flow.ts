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
  type Subtask,
  type Usage,
  type CommandOutcome,
  quoteUntrusted,
} from "../domain/index.js";
import { checkPlan, topologicalOrder } from "./plan-check.js";
import { evaluateGate } from "./gate.js";
import { reflection, retryVerdict } from "./retry.js";
import { gateAnnotations, renderGateSummary, renderPullRequestBody } from "./render.js";
import {
  Step,
  attemptOf,
  isWorking,
  buildJob,
  feedbackOf,
  jobKind,
  planJob,
  reviewJob,
  routeOfReviewer,
  scrutinyJob,
  subtaskOf,
  type Decision,
  type EffectInput,
  type MachineSettings,
} from "./step.js";
import { addFixSubtask, reviewArrived, startReviewRound } from "./review-flow.js";

export function jobSucceeded(step: Step, jobId: string, output: JobOutput): void {
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
      // What it pushed is the change so far: the handoff and the gate point at it.
      step.update({ headSha: result.artifact.headSha });
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
  step.update({ scrutiny: output.commands, ...(output.integrity && { integrity: output.integrity }), ...(output.headSha && { headSha: output.headSha }) });
  if (step.run.headSha === run.baseSha) {
    return step.escalate({ class: "permanent", reason: "no_change", detail: "the workers finished without changing any file" }, "The workers changed nothing. Is the issue already resolved, or does it need a clearer brief?");
  }
  if (fixFailingCommands(step, output.commands)) return;
  if (run.pr) {
    // A fix round pushed to the same branch: the PR follows; review the new head.
    startReviewRound(step);
    return;
  }
  step.update({ phase: "publishing" });
  step.emit({ kind: "openPullRequest", head: run.branch, base: step.run.defaultBranch!, title: run.issue.title, body: renderPullRequestBody(step.run) });
}

/**
 * The repository's own commands failed on the result although the workers reported `ok`: a
 * generator gets the failing output in its brief, up to `commands.fixAttempts` times, before
 * the change goes on to review and the gate. Returns true when a fix was dispatched.
 */
function fixFailingCommands(step: Step, commands: readonly CommandOutcome[]): boolean {
  const failing = commands.filter((c) => c.exitCode !== 0 && c.skipped === undefined);
  if (failing.length === 0 || step.run.scrutinyFixes >= step.run.config!.commands.fixAttempts) return false;
  step.update({ scrutinyFixes: step.run.scrutinyFixes + 1 });
  const brief = [
    "The repository's own commands fail on this change. Make them pass without weakening, skipping or deleting any test.",
    "",
    ...failing.flatMap((c) => [`- \`${c.cmd}\` (${c.name}): ${c.timedOut ? "timed out" : `exit ${c.exitCode}`}`, quoteUntrusted(`the output of ${c.cmd}`, c.outputTail.slice(-3000)), ""]),
  ].join("\n");
  addFixSubtask(step, `scrutiny-fix-${step.run.scrutinyFixes}`, `Make ${failing.map((c) => c.name).join(", ")} pass`, brief, []);
  return true;
}

export function jobFailed(step: Step, jobId: string, failure: Failure, usage: readonly Usage[], jitter: number): void {
  const run = step.run;
  const kind = jobKind(jobId);
  const task = kind === "build" ? `build:${subtaskOf(jobId)}` : kind === "review" ? `review:${subtaskOf(jobId)}` : kind;
  const role = kind === "plan" ? "planner" : kind === "scrutiny" ? "scrutiny" : kind === "review" ? "reviewer" : (run.plan?.subtasks.find((s) => s.id === subtaskOf(jobId))?.role ?? "worker");
  step.addUsage(usage, role);
  const previous = [...run.attempts].reverse().find((a) => a.task === task);
  const lastWasThisTask = run.attempts.at(-1)?.task === task;
  step.recordAttempt(jobId, task, failure);
  const attempt = attemptOf(jobId);
  if (kind === "build" && failure.reason === "conflict") {
    // One fix-up: the same subtask redone alone on the current tip; a second conflict goes to a person.
    const conflicts = run.attempts.filter((a) => a.task === task && a.failure.reason === "conflict").length;
    if (conflicts === 0) {
      step.setSubtask(subtaskOf(jobId), { status: "pending" });
      step.update({ fixups: [...step.run.fixups, subtaskOf(jobId)] });
      dispatchNext(step);
      return;
    }
  }
  const verdict = retryVerdict(failure, attempt, lastWasThisTask ? previous?.failure : undefined, jitter, step.settings.retry);
  if (verdict.retry) {
    const notBefore = new Date(Date.parse(step.at) + verdict.delayMs).toISOString();
    step.dispatch({ ...jobAgain(step.run, jobId, attempt + 1), reflection: reflection(failure, attempt) }, notBefore);
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

export function effectFailed(step: Step, effect: Effect, failure: Failure, jitter: number): void {
  // A missed reaction is harmless, and a missed progress update is repaired by the next one; but
  // the last one, with the state a person acts on, is tried again like any write (never escalated).
  if (effect.kind === "addReaction") return;
  if (effect.kind === "upsertProgressComment") {
    const newer = step.run.pending.some((e) => e.kind === "upsertProgressComment");
    const verdict = retryVerdict(failure, effect.attempt ?? 1, undefined, jitter, step.settings.retry);
    if (newer || isWorking(step.run.phase) || !verdict.retry) return;
    const { key: _old, notBefore: _was, ...again } = effect;
    step.emit({ ...again, attempt: (effect.attempt ?? 1) + 1, notBefore: new Date(Date.parse(step.at) + verdict.delayMs).toISOString() });
    return;
  }
  const finished = terminalPhases.includes(step.run.phase);
  // Work effects of a run that has ended are not retried: only its closing effects are.
  const workEffect = ["dispatchJob", "openPullRequest", "postReview", "readCi"].includes(effect.kind);
  // A gate update that a newer one replaced, or that no longer matches the gate, is stale.
  const staleGate =
    effect.kind === "publishGate" &&
    (step.run.pending.some((e) => e.kind === "publishGate") || effect.conclusion !== step.run.gate?.conclusion);
  if ((finished && workEffect) || staleGate) {
    step.recordAttempt(effect.key, `effect:${effect.kind}`, failure);
    return;
  }
  // Tries of this one effect: failures of the same kind earlier in the run's life were other writes.
  const attempt = effect.attempt ?? 1;
  const previous = attempt > 1 ? [...step.run.attempts].reverse().find((a) => a.task === `effect:${effect.kind}`)?.failure : undefined;
  step.recordAttempt(effect.key, `effect:${effect.kind}`, failure);
  const verdict = retryVerdict(failure, attempt, previous, jitter, step.settings.retry);
  if (verdict.retry) {
    const { key: _old, notBefore: _was, ...again } = effect;
    step.emit({ ...again, attempt: attempt + 1, notBefore: new Date(Date.parse(step.at) + verdict.delayMs).toISOString() } as EffectInput);
    return;
  }
  // After the end (or during an escalation) a failed effect is recorded and shown, never escalated again.
  if (terminalPhases.includes(step.run.phase)) {
    if (effect.kind !== "postHandoff") step.progress();
    return;
  }
  step.escalate(
    { ...failure, detail: `${effect.kind}: ${failure.detail} (${verdict.why})` },
    failure.class === "transient"
      ? `GitHub kept failing ${effect.kind} (${failure.reason}), for reasons outside the work. Retry later?`
      : `GitHub refused ${effect.kind}. Check the App's permissions and installation.`,
  );
}

/** Serial by default; with `parallel`, every ready subtask whose files no running one touches. */
export function dispatchNext(step: Step): boolean {
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
  // A fix-up after a conflict waits until nothing else runs, then starts from the latest tip alone.
  const fixup = ready.find((s) => step.run.fixups.includes(s.id));
  if (fixup) {
    if (running.length > 0) return true;
    // A fresh job id: the conflicted attempt's id is spent.
    const job = buildJob(step.run, fixup.id, (step.run.subtasks[fixup.id]?.attempts ?? 0) + 1);
    return step.dispatch({ ...job, reflection: reflection({ class: "permanent", reason: "conflict", detail: "the change conflicted with another subtask's" }, step.run.subtasks[fixup.id]?.attempts ?? 1) });
  }
  // In parallel mode a subtask joins the running ones when it is read-only or owns files none of
  // them owns; each lands on the branch by replaying its commit onto the tip (integrate).
  const readOnly = (id: string) => plan.subtasks.find((s) => s.id === id)!.role === "review";
  const disjoint = (a: Subtask, b: Subtask) => a.files.length > 0 && b.files.length > 0 && !a.files.some((f) => b.files.some((g) => f === g || f.startsWith(`${g}/`) || g.startsWith(`${f}/`)));
  for (const next of ready) {
    const fits = running.every((r) => readOnly(r.id) || readOnly(next.id) || disjoint(r, next));
    if (running.length > 0 && !(parallel && fits)) break;
    if (!step.dispatch(buildJob(step.run, next.id, 1))) return false;
    running.push(next);
    if (!parallel) break;
  }
  return true;
}

/** Stalls a job may have before the run goes to a person: each time it is replaced with a note. */
export const maxStalls = 3;

/**
 * The monitor stopped a job that made no progress. It is replaced with an adjusted brief, up to
 * three stalls of the same task; then a person is asked. Stalls do not use the retry policy's
 * attempts: a hung provider is not the worker's failure.
 */
export function jobStalled(step: Step, jobId: string, idleMs: number): void {
  const kind = jobKind(jobId);
  const task = kind === "build" ? `build:${subtaskOf(jobId)}` : kind === "review" ? `review:${subtaskOf(jobId)}` : kind;
  const minutes = Math.round(idleMs / 60_000);
  const failure: Failure = { class: "transient", reason: "worker_lost", detail: `no progress for ${minutes} min (${Math.round(idleMs / 1000)} s); stopped` };
  const stalls = step.run.attempts.filter((a) => a.task === task && a.failure.reason === "worker_lost" && a.failure.detail.startsWith("no progress")).length + 1;
  step.recordAttempt(jobId, task, failure);
  if (stalls >= maxStalls) {
    if (kind === "build") step.setSubtask(subtaskOf(jobId), { status: "failed", failure });
    return step.escalate({ ...failure, detail: `${task} stalled ${stalls} times: ${failure.detail}` }, "Needs manual help: the worker keeps stalling without progress.");
  }
  const attempt = attemptOf(jobId) + 1;
  const note = `The previous attempt stalled: ${failure.detail}. Work in small steps: one tool call per turn, and finish as soon as the brief is done.`;
  step.dispatch({ ...jobAgain(step.run, jobId, attempt), reflection: note });
}

export function waitExpired(run: Run, event: Extract<Event, { type: "wait.expired" }>, settings: MachineSettings): Decision {
  const waiting = event.waitingFor === "ci" ? run.phase === "awaiting_ci" : run.phase === "awaiting_approval";
  if (!waiting) return { run, effects: [], note: `no longer waiting for ${event.waitingFor}` };
  const step = new Step({ ...run, updatedAt: event.at }, settings, event.at);
  const hours = (event.waitedMs / 3_600_000).toFixed(1);
  step.escalate(
    { class: "permanent", reason: "blocked", detail: `waited ${hours} h for ${event.waitingFor === "ci" ? "the repository's CI" : "plan approval"}` },
    event.waitingFor === "ci" ? "The repository's CI never finished on the head commit. Is it configured to run on this branch?" : "The plan waits for `/approve`. Approve it, or `/cancel`?",
  );
  return { run: step.run, effects: step.effects };
}

/** The same job as `jobId`, as its next attempt (a re-asked plan keeps the checker's objections). */
function jobAgain(run: Run, jobId: string, attempt: number): Job {
  const kind = jobKind(jobId);
  const id = subtaskOf(jobId);
  const again =
    kind === "plan"
      ? planJob(run, attempt)
      : kind === "scrutiny"
        ? scrutinyJob(run, attempt)
        : kind === "review"
          ? reviewJob(run, id, routeOfReviewer(run, id), run.reviewRound, attempt)
          : buildJob(run, id, attempt);
  return { ...again, ...feedbackOf(run, kind, jobId) } as Job;
}

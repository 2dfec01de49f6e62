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
import { Step, defaultMachineSettings, planJob, runBranch, type Decision, type MachineSettings } from "./step.js";
import { dispatchNext, effectFailed, jobFailed, jobStalled, jobSucceeded, waitExpired } from "./flow.js";
import { ciCompleted, ciRead, startReviewRound } from "./review-flow.js";
import { commandReceived, commandRefused, prClosed, triggerRemoved, branchPushed, settlePush } from "./steer.js";
import { renderConfigError } from "./render.js";

export { defaultMachineSettings, runBranch, type Decision, type MachineSettings };

/**
 * The engine's brain: a pure function from (notes, event) to (new notes, effects).
 * No I/O, no clock, no randomness; time and ids arrive on the event.
 */
export function decide(run: Run | undefined, event: Event, settings: MachineSettings = defaultMachineSettings): Decision {
  if (event.delivery !== undefined && run?.deliveries.includes(event.delivery)) {
    return { run, effects: [], note: `delivery ${event.delivery} was already acted on` };
  }
  const decision = decideOnce(run, event, settings);
  if (event.delivery === undefined || !decision.run) return decision;
  return { ...decision, run: { ...decision.run, deliveries: [...decision.run.deliveries, event.delivery].slice(-100) } };
}

function decideOnce(run: Run | undefined, event: Event, settings: MachineSettings): Decision {
  if (event.type === "run.requested") return requested(run, event);
  if (!run) return { run, effects: [], note: `no run for ${event.type}` };
  if (event.type === "plan.approved") return approved(run, event, settings);
  if (event.type === "ci.completed") return ciCompleted(run, event, settings);
  if (event.type === "command.received") return commandReceived(run, event, settings);
  if (event.type === "command.refused") return commandRefused(run, event, settings);
  if (event.type === "pr.closed") return prClosed(run, event, settings);
  if (event.type === "trigger.removed") return triggerRemoved(run, event, settings);
  if (event.type === "branch.pushed") return branchPushed(run, event, settings);
  if (event.type === "wait.expired") return waitExpired(run, event, settings);
  if ((event.type === "job.succeeded" || event.type === "job.failed") && run.stoppedJobs.includes(event.key)) {
    // A job stopped by an escalation, a cancel or a push: its spend counts, its result changes nothing.
    const step = new Step({ ...run, updatedAt: event.at }, settings, event.at);
    step.addUsage(usageOf(event), "late");
    return { run: step.run, effects: [], note: `${event.jobId} was stopped; its late answer changes nothing` };
  }
  if (!run.pending.some((e) => e.key === event.key)) {
    return { run, effects: [], note: `${event.type} answers ${event.key}, which is not pending (a repeat)` };
  }
  const answeredEffect = run.pending.find((e) => e.key === event.key)!;
  const step = new Step({ ...run, pending: run.pending.filter((e) => e.key !== event.key), updatedAt: event.at }, settings, event.at);
  const stopped = terminalPhases.includes(run.phase) || run.phase === "paused";
  if (stopped && (event.type === "job.succeeded" || event.type === "job.failed")) {
    // A job still in flight when the run stopped: its spend counts, its result changes nothing.
    step.addUsage(usageOf(event), "late");
    return { run: step.run, effects: [], note: `${event.jobId} finished after the run became ${run.phase}` };
  }
  switch (event.type) {
    case "config.loaded":
      step.update({
        config: run.budgetOverride === undefined ? event.config : { ...event.config, budget: { ...event.config.budget, usd: run.budgetOverride } },
        defaultBranch: event.defaultBranch,
        phase: "planning",
        budgetOverride: undefined,
      });
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
    case "job.succeeded": {
      const pushed = event.output.kind === "build" ? event.output.result.artifact.headSha : event.output.kind === "scrutiny" ? event.output.headSha : undefined;
      if (pushed !== undefined && !step.run.pushedShas.includes(pushed)) step.update({ pushedShas: [...step.run.pushedShas, pushed].slice(-100) });
      jobSucceeded(step, event.jobId, event.output);
      break;
    }
    case "job.stalled":
      jobStalled(step, event.jobId, event.idleMs);
      break;
    case "job.failed":
      jobFailed(step, event.jobId, event.failure, event.usage, event.jitter ?? 0.5);
      break;
    case "pr.opened":
      step.update({ pr: { number: event.number, url: event.url } });
      // The run owns the PR either way; a stopped run starts no reviews on it.
      if (!stopped) startReviewRound(step);
      break;
    case "gate.published": {
      step.update({ gate: { ...step.run.gate!, checkRunId: event.checkRunId } });
      const conclusion = step.run.gate?.conclusion;
      // Only a working run becomes gated; a cancelled or escalated one stays what it is.
      if (conclusion === undefined || !["publishing", "reviewing", "awaiting_ci"].includes(step.run.phase)) break;
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
      ciRead(step, event.checks, answeredEffect);
      break;
    case "effect.failed":
      effectFailed(step, answeredEffect, event.failure, event.jitter ?? 0.5);
      break;
  }
  if (event.type === "job.succeeded" || event.type === "job.failed") settlePush(step);
  return { run: step.run, effects: step.effects };
}

const seriesBranch = (branch: string, series: number): string => (series > 1 ? `${branch}-${series}` : branch);

function requested(run: Run | undefined, event: Extract<Event, { type: "run.requested" }>): Decision {
  if (run && !terminalPhases.includes(run.phase)) {
    return { run, effects: [], note: `run already ${run.phase}; label applied again` };
  }
  const series = run ? run.series + 1 : 1;
  const fresh: Run = {
    id: event.runId,
    repo: event.repo,
    issue: event.issue,
    requestedBy: event.sender,
    deliveryId: event.deliveryId,
    createdAt: event.at,
    updatedAt: event.at,
    phase: "configuring",
    // A new run of the issue gets its own branch, so an earlier run's PR is never adopted.
    branch: seriesBranch(runBranch(event.issue.number, event.issue.title), series),
    series,
    subtasks: {},
    usage: [],
    attempts: [],
    planRejections: 0,
    reviewRound: 0,
    reviews: [],
    fixRounds: 0,
    ciFixes: 0,
    scrutinyFixes: 0,
    generation: 0,
    refused: [],
    fixups: [],
    stoppedJobs: [],
    pushedShas: [],
    deliveries: run?.deliveries ?? [],
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

function usageOf(event: Extract<Event, { type: "job.succeeded" | "job.failed" }>): readonly Usage[] {
  if (event.type === "job.failed") return event.usage;
  const output = event.output;
  return output.kind === "plan" ? output.usage : output.kind === "build" ? output.result.usage : output.kind === "review" ? output.review.usage : [];
}

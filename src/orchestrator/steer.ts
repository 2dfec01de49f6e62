import { helpText, resumablePhases, terminalPhases, type Event, type Run } from "../domain/index.js";
import { renderStatus } from "./render.js";
import { dispatchNext } from "./flow.js";
import { addFixSubtask, startReviewRound } from "./review-flow.js";
import { Step, planJob, scrutinyJob, type Decision, type MachineSettings } from "./step.js";

type CommandEvent = Extract<Event, { type: "command.received" }>;

/**
 * A person steering the run from GitHub. Every command is acknowledged with a reaction and
 * answered with its outcome where it was given.
 */
export function commandReceived(run: Run, event: CommandEvent, settings: MachineSettings): Decision {
  const step = new Step({ ...run, updatedAt: event.at }, settings, event.at);
  if (event.commentId !== undefined) step.emit({ kind: "addReaction", commentId: event.commentId, content: "eyes" });
  // An action taken in Mission Control is answered on the issue too, saying where it came from.
  const who = event.source === "mission-control" ? `@${event.by} (from Mission Control)` : `@${event.by}`;
  const reply = (body: string) => step.emit({ kind: "postReply", issueNumber: event.issueNumber ?? run.issue.number, body: `${who} ${body}` });
  const terminal = terminalPhases.includes(run.phase) && !resumablePhases.includes(run.phase);
  if (event.error) {
    reply(`\`/${event.command}\` was not acted on: ${event.error}. \`/help\` lists the commands.`);
    return { run: step.run, effects: step.effects };
  }
  switch (event.command) {
    case "help":
      reply(`\n\n${helpText}`);
      break;
    case "status":
      reply(`\n\n${renderStatus(run)}`);
      break;
    case "approve":
      if (run.phase !== "awaiting_approval") {
        reply(`there is nothing to approve: the run is \`${run.phase}\`.`);
        break;
      }
      step.update({ approvedBy: event.by, phase: "building" });
      if (dispatchNext(step)) step.progress();
      reply("approved the plan; building now.");
      break;
    case "escalate":
      if (terminalPhases.includes(run.phase)) {
        reply(`the run is already \`${run.phase}\`.`);
        break;
      }
      step.escalate(
        { class: "permanent", reason: "blocked", detail: `escalated by @${event.by}${event.note ? `: ${event.note}` : ""}` },
        event.note || `@${event.by} asked for a person to take over.`,
      );
      reply("stopped the run and posted the handoff.");
      break;
    case "cancel":
      // An escalated or paused run waits on a person, who may end it; a gated one is ended by closing its PR.
      if (terminal || run.phase === "gated") {
        reply(`the run is already \`${run.phase}\`; nothing to cancel${run.phase === "gated" ? " (close the pull request to end it)" : ""}.`);
        break;
      }
      cancel(step, `cancelled by @${event.by}`);
      reply("cancelled the run.");
      break;
    case "retry":
      retry(step, event, reply);
      break;
  }
  return { run: step.run, effects: step.effects };
}

export function commandRefused(run: Run, event: Extract<Event, { type: "command.refused" }>, settings: MachineSettings): Decision {
  if (run.refused.includes(event.by)) return { run, effects: [], note: `@${event.by} was already told once` };
  const step = new Step({ ...run, refused: [...run.refused, event.by], updatedAt: event.at }, settings, event.at);
  step.emit({
    kind: "postReply",
    issueNumber: event.issueNumber ?? run.issue.number,
    body: `@${event.by} thanks — only people with write access to this repository can steer Shopfloor, so \`/${event.command}\` was not acted on.`,
  });
  return { run: step.run, effects: step.effects };
}

/** `/retry`: a new generation of attempts, resuming at the step that stopped, with the note in the brief. */
function retry(step: Step, event: CommandEvent, reply: (body: string) => void): void {
  const run = step.run;
  if (!resumablePhases.includes(run.phase) || (run.phase === "gated" && run.gate?.conclusion === "success")) {
    reply(`there is nothing to retry: the run is \`${run.phase}\`.`);
    return;
  }
  const failure = run.failure;
  const note = [
    `A person (@${event.by}) asked for a retry${event.note ? `: "${event.note}"` : "."}`,
    failure ? `What stopped the run: ${failure.class} / ${failure.reason}: ${failure.detail.slice(0, 1500)}` : "",
  ]
    .filter(Boolean)
    .join("\n");
  step.update({
    generation: run.generation + 1,
    retryNote: note,
    ...(event.model !== undefined ? { modelOverride: event.model } : { modelOverride: undefined }),
    ...(event.budgetUsd !== undefined &&
      (run.config ? { config: { ...run.config, budget: { ...run.config.budget, usd: event.budgetUsd } } } : { budgetOverride: event.budgetUsd })),
    failure: undefined,
    question: undefined,
  });
  step.emit({ kind: "removeLabels", labels: [step.settings.blockedLabel] });
  resume(step);
  if (step.run.phase !== "escalated") {
    reply(`retrying from \`${step.run.phase}\`${event.model ? ` on \`${event.model}\`` : ""}${event.budgetUsd ? ` with a budget of $${event.budgetUsd}` : ""}.`);
    step.progress();
  } else {
    reply("could not resume: see the new handoff.");
  }
}

/** Pick up at the first step that is not done, from the notes alone. */
function resume(step: Step): void {
  const run = step.run;
  if (!run.config) {
    step.update({ phase: "configuring" });
    step.emit({ kind: "loadConfig" });
    return;
  }
  if (!run.plan) {
    step.update({ phase: "planning" });
    step.dispatch(planJob(step.run, 1));
    return;
  }
  // A plan that needed a writer's approval still needs it after an escalation.
  if ((run.plan.risk === "high" || run.config.approval.always) && !run.approvedBy) {
    step.update({ phase: "awaiting_approval" });
    return;
  }
  const notOk = Object.entries(run.subtasks).filter(([, s]) => s.status !== "ok");
  if (notOk.length > 0) {
    const reset = Object.fromEntries(notOk.map(([id, s]) => [id, { ...s, status: "pending" as const }]));
    step.update({ phase: "building", subtasks: { ...run.subtasks, ...reset } });
    dispatchNext(step);
    return;
  }
  if (!run.scrutiny || run.phase === "paused") {
    step.update({ phase: "scrutiny" });
    step.dispatch(scrutinyJob(step.run, 1));
    return;
  }
  if (!run.pr) {
    step.update({ phase: "publishing", scrutiny: undefined });
    step.dispatch(scrutinyJob(step.run, 1));
    return;
  }
  step.update({ fixRounds: 0, ciFixes: 0, scrutinyFixes: 0 });
  const failedGate = run.gate?.conclusion === "failure" || run.failure?.reason === "failed_review";
  if (failedGate) {
    // The same code would fail the same way: a new build generation works on what failed.
    const failing = (run.gate?.items ?? []).filter((i) => i.state === "fail");
    const brief = [
      "A person asked for another attempt at this change after the gate failed. Fix what failed, without weakening any test.",
      "",
      ...failing.map((i) => `- ${i.item}: ${i.evidence.slice(0, 1500)}`),
      ...(run.failure ? [`- ${run.failure.reason}: ${run.failure.detail.slice(0, 1500)}`] : []),
    ].join("\n");
    addFixSubtask(step, `retry-g${run.generation}`, "Fix what failed the gate", brief, []);
    return;
  }
  // Something outside the code stopped it (a review job, CI never reporting): review the head again.
  startReviewRound(step);
}

function cancel(step: Step, why: string): void {
  step.stopWork(why, true);
  step.update({ phase: "cancelled", question: why });
  const sha = step.run.headSha ?? step.run.baseSha;
  if (sha && step.run.pr) {
    step.update({ gate: { conclusion: "action_required", items: step.run.gate?.items ?? [] } });
    step.emit({ kind: "publishGate", headSha: sha, conclusion: "action_required", title: "Cancelled", summary: why, annotations: [], actions: [] });
  }
  step.progress();
}

export function prClosed(run: Run, event: Extract<Event, { type: "pr.closed" }>, settings: MachineSettings): Decision {
  if (terminalPhases.includes(run.phase) && run.phase !== "gated" && run.phase !== "escalated") return { run, effects: [], note: `already ${run.phase}` };
  // Runs own their PRs by number: a PR of an earlier run of this issue closing changes nothing here.
  if ((event.number !== undefined && event.number !== run.pr?.number) || (event.branch !== undefined && event.branch !== run.branch)) {
    return { run, effects: [], note: `PR #${event.number ?? "?"} (${event.branch ?? "?"}) is not this run's` };
  }
  const step = new Step({ ...run, updatedAt: event.at }, settings, event.at);
  if (event.merged) {
    step.stopWork("the pull request was merged", true);
    step.update({ phase: "done" });
    // The branch goes only if its tip is what was merged: nothing unmerged is ever lost.
    if (run.headSha) step.emit({ kind: "deleteBranch", branch: run.branch, expectedSha: run.headSha });
    step.progress();
  } else {
    cancel(step, `the pull request was closed without merging by @${event.by}`);
  }
  return { run: step.run, effects: step.effects };
}

export function triggerRemoved(run: Run, event: Extract<Event, { type: "trigger.removed" }>, settings: MachineSettings): Decision {
  if (terminalPhases.includes(run.phase)) return { run, effects: [], note: `already ${run.phase}` };
  const step = new Step({ ...run, updatedAt: event.at }, settings, event.at);
  cancel(step, `the trigger label was removed by @${event.by}`);
  return { run: step.run, effects: step.effects };
}

/**
 * Commits on the run branch. Shopfloor's own are known by commit (what it pushed), never by the
 * committer email a push carries, which anyone can forge; a rewrite of history is always a person.
 * A push seen while a build is still answering is decided once the builds have answered.
 */
export function branchPushed(run: Run, event: Extract<Event, { type: "branch.pushed" }>, settings: MachineSettings): Decision {
  if (terminalPhases.includes(run.phase)) return { run, effects: [], note: "the run is over" };
  if (event.branch !== undefined && event.branch !== run.branch) return { run, effects: [], note: `${event.branch} is not this run's branch` };
  if (!event.forced && (event.headSha === run.headSha || run.pushedShas.includes(event.headSha))) {
    return { run, effects: [], note: `${event.headSha.slice(0, 12)} is Shopfloor's own push` };
  }
  const builds = run.pending.filter((e) => e.kind === "dispatchJob" && e.job.kind === "build").map((e) => e.key);
  if (builds.length > 0 && !event.forced) {
    return { run: { ...run, unexplainedPush: { headSha: event.headSha, by: event.by, builds }, updatedAt: event.at }, effects: [], note: "a push while builds answer: decided when they have" };
  }
  const step = new Step({ ...run, updatedAt: event.at }, settings, event.at);
  pause(step, event.headSha, event.by);
  return { run: step.run, effects: step.effects };
}

/** After a job answers: a push seen meanwhile is Shopfloor's if a build pushed that commit, else a person's. */
export function settlePush(step: Step): void {
  const push = step.run.unexplainedPush;
  if (!push) return;
  const waiting = push.builds.filter((key) => step.run.pending.some((e) => e.key === key));
  if (step.run.pushedShas.includes(push.headSha) || terminalPhases.includes(step.run.phase)) {
    step.update({ unexplainedPush: undefined });
    return;
  }
  if (waiting.length > 0) {
    step.update({ unexplainedPush: { ...push, builds: waiting } });
    return;
  }
  step.update({ unexplainedPush: undefined });
  pause(step, push.headSha, push.by);
}

/** Someone else's commits are on the run branch: stop touching it; `/retry` resumes on top of them. */
function pause(step: Step, headSha: string, by: string): void {
  step.update({ phase: "paused", headSha });
  step.stopWork(`@${by} pushed to the run branch`);
  step.progress();
}

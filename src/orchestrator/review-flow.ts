import {
  severityRank,
  type CiCheck,
  type Effect,
  type Event,
  type Finding,
  type Job,
  type Review,
  type Run,
} from "../domain/index.js";
import { ciGraceRead, evaluateGate } from "./gate.js";
import { gateAnnotations, renderGateSummary } from "./render.js";
import { dispatchNext } from "./flow.js";
import { Step, reviewJob, type Decision, type MachineSettings } from "./step.js";

/** Reviewers read the head with fresh context, in parallel; the gate shows `in_progress` meanwhile. */
export function startReviewRound(step: Step): void {
  const round = step.run.reviewRound + 1;
  // Findings of the last round go to the new reviewers, so they check each was addressed.
  const prior = step.run.reviews.flatMap((r) => r.findings);
  const previousSha = step.run.gateSha;
  if (previousSha && previousSha !== step.run.headSha && step.run.gate?.conclusion === undefined) {
    // The gate on the old head would stay in_progress forever: conclude it there, pointing on.
    step.emit({
      kind: "publishGate",
      headSha: previousSha,
      conclusion: "failure",
      title: `Superseded by ${step.run.headSha!.slice(0, 12)}`,
      summary: `The run branch moved to ${step.run.headSha}; the gate is evaluated there.`,
      annotations: [],
      actions: [],
    });
  }
  step.update({ phase: "reviewing", reviewRound: round, reviews: [], ci: undefined });
  step.publishGate();
  const reviewers = step.run.config!.review.reviewers;
  for (const [i, route] of reviewers.entries()) {
    if (!step.dispatch({ ...reviewJob(step.run, `r${i + 1}`, route, round, 1), priorFindings: prior } as Job)) return;
  }
  step.progress();
}

export function reviewArrived(step: Step, review: Review): void {
  const run = step.run;
  step.addUsage(review.usage, "reviewer");
  // Kept in reviewer order, whatever order they finish in, so summaries read the same every time.
  const reviews = [...run.reviews.filter((r) => r.reviewer !== review.reviewer), review].sort((a, b) => a.reviewer.localeCompare(b.reviewer, "en", { numeric: true }));
  step.update({ reviews });
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
export function addFixSubtask(step: Step, id: string, title: string, brief: string, files: readonly string[]): void {
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

/**
 * Other apps' CI on the head, as read. Red: a bounded fix attempt with the failing output in its
 * brief. Running: wait for the next arrival (`ci.completed`). All green: conclude. Nothing at all
 * means "no CI" only once `ci.graceMinutes` have passed since the first read of this head, because
 * other apps create their suites and statuses seconds to minutes after a push: the first empty
 * read schedules one more read at the end of the grace, and an arrival in between reads at once.
 * `read` is the readCi effect this answers: a read of an older head changes nothing.
 */
export function ciRead(step: Step, checks: CiCheck[], read?: Effect): void {
  if (read?.kind === "readCi" && read.headSha !== step.run.headSha) return;
  const firstRead = step.run.ci === undefined;
  const grace = ciGraceRead(step.run);
  step.update({ ci: checks });
  if (step.run.phase !== "awaiting_ci") return;
  if (checks.length === 0) {
    // Within the grace its own read is still pending: that read, or an arrival, decides.
    if (grace) return;
    const minutes = step.run.config!.ci.graceMinutes;
    if (firstRead && minutes > 0) {
      const notBefore = new Date(Date.parse(step.at) + minutes * 60_000).toISOString();
      step.emit({ kind: "readCi", headSha: step.run.headSha!, graceSince: step.at, notBefore });
      return;
    }
    return concludeGate(step);
  }
  // CI has appeared: what is waited for now is its checks, not the end of the grace.
  if (grace) step.update({ pending: step.run.pending.filter((e) => e.key !== grace.key) });
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

/**
 * A check suite completed or a commit status arrived on a commit (webhook): read CI again at
 * once, also while the grace read waits, unless a read that will see it is already under way.
 */
export function ciCompleted(run: Run, event: Extract<Event, { type: "ci.completed" }>, settings: MachineSettings): Decision {
  if (run.phase !== "awaiting_ci" || event.headSha !== run.headSha) return { run, effects: [], note: `CI on ${event.headSha.slice(0, 12)} does not concern this run now` };
  if (run.pending.some((e) => e.kind === "readCi" && e.graceSince === undefined)) return { run, effects: [], note: "CI is already being read" };
  const step = new Step({ ...run, updatedAt: event.at }, settings, event.at);
  step.emit({ kind: "readCi", headSha: run.headSha! });
  return { run: step.run, effects: step.effects };
}

/** Everything is in: the gate concludes `success` or `failure` on the head commit. */
export function concludeGate(step: Step): void {
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


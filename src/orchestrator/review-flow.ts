import {
  severityRank,
  type Event,
  type Finding,
  type Job,
  type Review,
  type Run,
} from "../domain/index.js";
import { evaluateGate } from "./gate.js";
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

export function ciRead(step: Step, checks: Run["ci"] & object): void {
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

export function ciCompleted(run: Run, event: Extract<Event, { type: "ci.completed" }>, settings: MachineSettings): Decision {
  if (run.phase !== "awaiting_ci" || event.headSha !== run.headSha) return { run, effects: [], note: `CI on ${event.headSha.slice(0, 12)} does not concern this run now` };
  if (run.pending.some((e) => e.kind === "readCi")) return { run, effects: [], note: "CI is already being read" };
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


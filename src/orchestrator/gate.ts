import { assertionEvidence, commandResult, reviewsComplete, severityRank, sumUsage, type GateItem, type Run } from "../domain/index.js";

export interface GateVerdict {
  /** `pending` while anything still waits (reviews, CI): the check stays `in_progress`. */
  conclusion: "success" | "failure" | "pending";
  items: GateItem[];
}

/** CI conclusions GitHub counts as passing. */
const ciPassing = new Set(["success", "neutral", "skipped"]);

/**
 * The Definition of Done as a pure function of the run's notes. Every item carries its
 * evidence; the gate passes only when every item passes. An item with no evidence fails or
 * waits: nothing is assumed done.
 */
export function evaluateGate(run: Run): GateVerdict {
  const items: GateItem[] = [
    planApproved(run),
    subtasksOk(run),
    ...commandsPassed(run),
    testIntegrity(run),
    contractEvidenced(run),
    reviewQuorum(run),
    repoCi(run),
    confidence(run),
    budget(run),
    protectedPaths(run),
    upToDate(run),
  ];
  const conclusion = items.some((i) => i.state === "fail") ? "failure" : items.some((i) => i.state === "pending") ? "pending" : "success";
  return { conclusion, items };
}

const pass = (item: string, evidence: string): GateItem => ({ item, state: "pass", evidence });
const fail = (item: string, evidence: string): GateItem => ({ item, state: "fail", evidence });
const pending = (item: string, evidence: string): GateItem => ({ item, state: "pending", evidence });

function planApproved(run: Run): GateItem {
  const item = "Plan accepted (and approved when required)";
  if (!run.plan) return fail(item, "no accepted plan");
  const required = run.plan.risk === "high" || run.config?.approval.always === true;
  if (!required) return pass(item, `${run.plan.subtasks.length} subtask(s), ${run.plan.contract.assertions.length} assertion(s); approval not required (risk ${run.plan.risk})`);
  return run.approvedBy ? pass(item, `approved by @${run.approvedBy}`) : pending(item, "waiting for `/approve` from a person with write access");
}

function subtasksOk(run: Run): GateItem {
  const item = "Every subtask reported ok";
  const subtasks = run.plan?.subtasks ?? [];
  const notOk = subtasks.filter((s) => run.subtasks[s.id]?.status !== "ok");
  if (subtasks.length === 0) return fail(item, "no subtasks");
  return notOk.length === 0
    ? pass(item, subtasks.map((s) => `${s.id}: ok`).join(", "))
    : fail(item, notOk.map((s) => `${s.id}: ${run.subtasks[s.id]?.status ?? "not run"}${failureNote(run.subtasks[s.id]?.failure)}`).join(", "));
}

function commandsPassed(run: Run): GateItem[] {
  const commands = run.scrutiny ?? [];
  if (commands.length === 0) return [fail("Repository commands", run.scrutiny ? "no command configured: set `commands` in .github/shopfloor.yml" : "not run yet")];
  return commands.map((c) => {
    const evidence = commandResult(c);
    const item = c.name === "install" ? `Setup: \`${c.cmd}\` (install)` : `\`${c.cmd}\` (${c.name})`;
    return c.exitCode === 0 && !c.skipped ? pass(item, evidence) : fail(item, c.name === "install" ? `${evidence}: ${c.outputTail.trim().split("\n").slice(-3).join(" / ")}` : evidence);
  });
}

function testIntegrity(run: Run): GateItem {
  const item = "Test integrity against the base";
  const t = run.integrity;
  if (!t) return run.scrutiny ? fail(item, "not measured: the runner returned no integrity report") : pending(item, "not measured yet");
  const problems = [
    ...t.deletedTests.map((f) => `deleted test file ${f}`),
    ...t.newSkips.map((s) => `new skip/only: ${s}`),
    ...(t.testCountHead < t.testCountBase ? [`test count fell from ${t.testCountBase} to ${t.testCountHead}`] : []),
  ];
  return problems.length > 0 ? fail(item, problems.join("; ")) : pass(item, `no test deleted or skipped; ${t.testCountBase} → ${t.testCountHead} tests`);
}

function contractEvidenced(run: Run): GateItem {
  const item = "Every contract assertion evidenced";
  const assertions = run.plan?.contract.assertions ?? [];
  if (assertions.length === 0) return fail(item, "no contract");
  const missing: string[] = [];
  const waiting: string[] = [];
  for (const a of assertions) {
    const e = assertionEvidence(run, a);
    if (e.state === "fail") missing.push(`${a.id} (${e.why})`);
    else if (e.state === "pending") waiting.push(`${a.id} (${e.why})`);
  }
  if (missing.length > 0) return fail(item, missing.join("; "));
  if (waiting.length > 0) return pending(item, waiting.join("; "));
  return pass(item, assertions.map((a) => `${a.id}: ${a.check.kind === "command" ? "command passed" : "reviewer checked"}`).join(", "));
}

function reviewQuorum(run: Run): GateItem {
  const item = "Reviewer quorum approves, no blocking finding";
  const config = run.config?.review;
  if (!config) return pending(item, "no review configured yet");
  if (!reviewsComplete(run)) return pending(item, `${run.reviews.length} of ${config.reviewers.length} reviews in`);
  const threshold = severityRank[config.blockingSeverity];
  const blocking = run.reviews.flatMap((r) => r.findings.filter((f) => severityRank[f.severity] >= threshold).map((f) => `${r.route}: ${f.severity} at ${f.file}:${f.line}`));
  const against = run.reviews.filter((r) => r.verdict !== "approve").map((r) => `${r.route} requests changes`);
  const problems = [...against, ...blocking];
  return problems.length > 0 ? fail(item, problems.join("; ")) : pass(item, run.reviews.map((r) => `${r.route}: approve`).join(", "));
}

function repoCi(run: Run): GateItem {
  const item = "Repository CI green on the head commit";
  if (run.ci === undefined) return pending(item, "not read yet");
  if (run.ci.length === 0) {
    const minutes = run.config?.ci.graceMinutes ?? 0;
    const grace = ciGraceRead(run);
    if (grace) return pending(item, `no check or commit status on this commit yet: waiting ${minutes} min (ci.graceMinutes) for CI to appear, until ${grace.notBefore}`);
    return pass(
      item,
      minutes > 0
        ? `no CI: waited ${minutes} min (ci.graceMinutes) for other apps' checks or commit statuses on this commit and saw none`
        : "no CI: no other app's check or commit status on this commit (ci.graceMinutes is 0: not waited for)",
    );
  }
  const running = run.ci.filter((c) => c.status !== "completed");
  const red = run.ci.filter((c) => c.status === "completed" && !ciPassing.has(c.conclusion ?? ""));
  if (red.length > 0) return fail(item, red.map((c) => `${c.name}: ${c.conclusion}`).join(", "));
  if (running.length > 0) return pending(item, running.map((c) => `${c.name}: ${c.status}`).join(", "));
  return pass(item, run.ci.map((c) => `${c.name}: ${c.conclusion}`).join(", "));
}

/**
 * The read due when the grace for CI to appear on the head commit ends, while it is pending: the
 * first read found nothing, and until this one answers "no CI" is not concluded.
 */
export function ciGraceRead(run: Run): Extract<Run["pending"][number], { kind: "readCi" }> | undefined {
  return run.pending.find((e): e is Extract<Run["pending"][number], { kind: "readCi" }> => e.kind === "readCi" && e.graceSince !== undefined && e.headSha === run.headSha);
}

function confidence(run: Run): GateItem {
  const item = "Confidence above the threshold";
  const threshold = run.config?.confidence.threshold ?? 0.5;
  const scores = [
    ...Object.entries(run.subtasks).flatMap(([id, s]) => (s.result ? [{ who: id, score: s.result.confidence }] : [])),
    ...run.reviews.map((r) => ({ who: r.route, score: r.confidence })),
  ];
  if (scores.length === 0) return pending(item, "no result yet");
  const low = scores.filter((s) => s.score < threshold);
  return low.length > 0
    ? fail(item, low.map((s) => `${s.who}: ${s.score.toFixed(2)}`).join(", ") + ` (threshold ${threshold})`)
    : pass(item, `lowest ${Math.min(...scores.map((s) => s.score)).toFixed(2)} (threshold ${threshold})`);
}

function budget(run: Run): GateItem {
  const item = "Within budget";
  const b = run.config?.budget;
  const spent = sumUsage(run.usage);
  if (!b) return pending(item, "no budget loaded");
  const evidence = `$${spent.costUsd.toFixed(2)} of $${b.usd.toFixed(2)}, ${spent.tokens} of ${b.tokens} tokens`;
  return spent.costUsd <= b.usd && spent.tokens <= b.tokens ? pass(item, evidence) : fail(item, evidence);
}

function protectedPaths(run: Run): GateItem {
  const item = "Protected paths untouched";
  const touched = run.integrity?.protectedTouched ?? [];
  const patterns = (run.config?.protectedPaths ?? []).join(", ") || "none configured";
  if (!run.integrity) return run.scrutiny ? fail(item, `not measured (${patterns}): the runner returned no integrity report`) : pending(item, "not measured yet");
  return touched.length > 0 ? fail(item, `changed ${touched.join(", ")} (protected: ${patterns})`) : pass(item, `none of ${patterns}`);
}

function upToDate(run: Run): GateItem {
  const item = "No conflict with the base branch";
  if (!run.integrity) return run.scrutiny ? fail(item, "not measured: the runner returned no integrity report") : pending(item, "not measured yet");
  const conflicts = run.integrity.conflicts;
  return conflicts.length > 0 ? fail(item, `conflicts with ${run.defaultBranch ?? "the base"} in ${conflicts.join(", ")}`) : pass(item, "merges cleanly");
}

function failureNote(failure: { reason: string; detail: string } | undefined): string {
  return failure ? ` (${failure.reason}: ${failure.detail.split("\n")[0]!.slice(0, 200)})` : "";
}

import { commandResult, sumUsage, type Run, type Usage } from "../domain/index.js";
import type { GateVerdict } from "./gate.js";

/** GitHub rejects comment and PR bodies over 65 536 characters; stay well under. */
const maxBody = 60_000;

export const progressMarker = (runId: string): string => `<!-- shopfloor:progress:${runId} -->`;
export const configErrorMarker = (runId: string): string => `<!-- shopfloor:config-error:${runId} -->`;
export const prMarker = (runId: string): string => `<!-- shopfloor:pr:${runId} -->`;
export const handoffMarker = (runId: string): string => `<!-- shopfloor:handoff:${runId} -->`;

const phaseLine: Record<Run["phase"], string> = {
  configuring: "Reading the repository's configuration.",
  planning: "Planning the work and writing the validation contract.",
  awaiting_approval: "The plan is high-risk or this repository asks for approval: a person with write access comments `/approve` to start the build.",
  building: "Building the plan, one subtask at a time.",
  scrutiny: "Running the repository's own commands on the result.",
  publishing: "Opening the pull request.",
  reviewing: "Reviewers from different vendors are reading the change.",
  awaiting_ci: "Reviews are in; waiting for the repository's own CI on the head commit.",
  gated: "Done: the pull request is open and the `Shopfloor gate` check has concluded.",
  paused: "Paused: someone pushed to the run branch. Shopfloor will not overwrite it; `/retry` resumes on top of it.",
  cancelled: "Cancelled.",
  done: "Done: the pull request was merged.",
  escalated: "Stopped and handed to a person: see the handoff comment below.",
  rejected: "Not started: the configuration is invalid.",
};

export function renderProgress(run: Run): string {
  const lines = [progressMarker(run.id), `### Shopfloor is working on this issue`, "", `**Status:** ${phaseLine[run.phase]}`, ""];
  if (run.plan) {
    lines.push(`**Plan:** ${oneLine(run.plan.summary)}`, "");
    for (const s of run.plan.subtasks) {
      const state = run.subtasks[s.id]?.status ?? "pending";
      lines.push(`- ${checkbox(state)} \`${s.id}\` (${s.role}) ${oneLine(s.title)} — ${state}`);
    }
    lines.push("");
  }
  if (run.scrutiny) {
    for (const c of run.scrutiny) lines.push(`- ${c.exitCode === 0 ? "✅" : "❌"} \`${c.cmd}\` exited ${c.exitCode}`);
    lines.push("");
  }
  if (run.pr) lines.push(`**Pull request:** #${run.pr.number}`, "");
  if (run.gate?.conclusion) lines.push(`**Gate:** \`${run.gate.conclusion}\``, "");
  if (run.gate?.conclusion === "success") lines.push(`The pull request is ready for review${(run.config?.owners.length ?? 0) > 0 ? `; asked ${run.config!.owners.map((o) => `@${o}`).join(", ")} to review` : ""}. A person merges.`, "");
  for (const r of run.reviews) lines.push(`- review by \`${r.route}\`: ${r.verdict}, ${r.findings.length} finding(s)`);
  if (run.reviews.length > 0) lines.push("");
  if (run.failure) lines.push(`**Why it stopped:** ${run.failure.class} / ${run.failure.reason}: ${oneLine(run.failure.detail)}`, "");
  if (run.phase === "escalated" && run.question) lines.push(`**Question for a person:** ${oneLine(run.question)}`, "");
  const effectTrouble = run.attempts.filter((a) => a.task.startsWith("effect:") && terminalPhaseNames.has(run.phase));
  for (const a of effectTrouble.slice(-3)) lines.push(`**Note:** ${a.task.slice("effect:".length)} — ${oneLine(a.failure.detail)}`, "");
  lines.push(renderSpend(run.usage));
  return cap(lines.join("\n"));
}

const terminalPhaseNames = new Set<string>(["done", "cancelled", "gated"]);

export function renderPullRequestBody(run: Run): string {
  const plan = run.plan;
  const lines = [prMarker(run.id), `Closes #${run.issue.number}`, "", "Built by Shopfloor. A person reviews and merges; Shopfloor never does.", ""];
  if (plan) {
    lines.push("## Plan", "", oneLine(plan.summary), "", "| subtask | role | files | status |", "|---|---|---|---|");
    for (const s of plan.subtasks) {
      lines.push(`| \`${s.id}\` ${cell(s.title)} | ${s.role} | ${cell(s.files.join(", ") || "—")} | ${run.subtasks[s.id]?.status ?? "pending"} |`);
    }
    lines.push("", "## Validation contract", "", "| id | assertion | checked by |", "|---|---|---|");
    for (const a of plan.contract.assertions) {
      const how = a.check.kind === "command" ? `command \`${cell(a.check.command)}\`` : `review: ${cell(a.check.rubric)}`;
      lines.push(`| \`${a.id}\` | ${cell(a.text)} | ${how} |`);
    }
    lines.push("", "## What each worker reported", "");
    for (const s of plan.subtasks) {
      const result = run.subtasks[s.id]?.result;
      if (!result) continue;
      lines.push(`### \`${s.id}\` — ${result.status}, confidence ${result.confidence.toFixed(2)}`, "", oneLine(result.summary), "");
      for (const c of result.handoff.completed) lines.push(`- done: ${oneLine(c)}`);
      for (const r of result.handoff.remaining) lines.push(`- remaining: ${oneLine(r)}`);
      for (const i of result.handoff.issues) lines.push(`- issue found: ${oneLine(i)}`);
      for (const c of result.handoff.commands) lines.push(`- ran \`${cell(c.cmd)}\` → exit ${c.exitCode} (${c.ms} ms)`);
      lines.push(`- files: ${result.artifact.filesChanged.map((f) => `\`${f}\``).join(", ") || "none"}`, "");
    }
  }
  if (run.scrutiny) {
    lines.push("## Repository commands", "");
    for (const c of run.scrutiny) lines.push(`- \`${cell(c.cmd)}\` → ${commandResult(c)}`);
    lines.push("");
  }
  lines.push(renderSpend(run.usage));
  return cap(lines.join("\n"));
}

/**
 * What a person needs to decide on an escalated run: the question, what was attempted, the
 * change so far, the spend, the failing checks. The shell appends the decision trace excerpt.
 */
export function renderHandoff(run: Run): string {
  const lines = [handoffMarker(run.id), "### Shopfloor needs a person", ""];
  if (run.question) lines.push(`**Question:** ${oneLine(run.question)}`, "");
  if (run.failure) lines.push(`**Why it stopped:** \`${run.failure.class}\` / \`${run.failure.reason}\` — ${oneLine(run.failure.detail)}`, "");
  if (run.failure?.reason === "setup_failed") {
    // The install's own output is what a person needs to fix a manifest or a registry setting.
    lines.push("```", run.failure.detail.slice(-2500).replace(/```/g, "ʼʼʼ"), "```", "");
  }
  lines.push("#### What was attempted", "");
  if (run.plan) {
    for (const s of run.plan.subtasks) {
      const state = run.subtasks[s.id];
      lines.push(`- \`${s.id}\` (${s.role}) ${oneLine(s.title)}: ${state?.status ?? "pending"}, ${state?.attempts ?? 0} attempt(s)`);
      const r = state?.result;
      if (r) {
        lines.push(`  - reported: ${oneLine(r.summary)} (confidence ${r.confidence.toFixed(2)})`);
        if (r.artifact.diffStat) lines.push(`  - change: ${oneLine(r.artifact.diffStat)} at \`${r.artifact.headSha.slice(0, 12)}\``);
        for (const i of r.handoff.issues) lines.push(`  - issue found: ${oneLine(i)}`);
        for (const rem of r.handoff.remaining) lines.push(`  - remaining: ${oneLine(rem)}`);
      }
    }
  } else {
    lines.push("- no plan was accepted");
  }
  if (run.attempts.length > 0) {
    lines.push("", "| when | task | failure |", "|---|---|---|");
    for (const a of run.attempts.slice(-10)) lines.push(`| ${a.at} | ${cell(a.task)} | ${a.failure.class} / ${a.failure.reason}: ${cell(a.failure.detail)} |`);
  }
  const failing = (run.scrutiny ?? []).filter((c) => c.exitCode !== 0 && !c.skipped);
  if (failing.length > 0) {
    lines.push("", "#### Failing checks", "");
    for (const c of failing) lines.push(`\`${cell(c.cmd)}\` exited ${c.exitCode}:`, "", "```", c.outputTail.slice(-1500).replace(/```/g, "ʼʼʼ"), "```");
  }
  if (run.headSha && run.baseSha && run.headSha !== run.baseSha) {
    lines.push("", `**Change so far:** branch \`${run.branch}\`, \`${run.baseSha.slice(0, 12)}…${run.headSha.slice(0, 12)}\``);
  }
  lines.push("", renderSpend(run.usage), "", "A person with write access can answer with `/retry [note]` or take the branch over.");
  return cap(lines.join("\n"));
}

export function renderGateSummary(verdict: GateVerdict, run?: Run): { title: string; summary: string } {
  const passed = verdict.items.filter((i) => i.state === "pass").length;
  const failed = verdict.items.filter((i) => i.state === "fail").map((i) => i.item);
  const waiting = verdict.items.filter((i) => i.state === "pending").map((i) => i.item);
  const title =
    verdict.conclusion === "success"
      ? `Definition of Done: ${passed}/${verdict.items.length} proven`
      : verdict.conclusion === "pending"
        ? `Waiting: ${waiting.join(", ")}`.slice(0, 250)
        : `Not done: ${failed.join(", ")}`.slice(0, 250);
  const table = ["| item | state | evidence |", "|---|---|---|"];
  for (const i of verdict.items) table.push(`| ${cell(i.item)} | ${i.state === "pass" ? "✅ pass" : i.state === "fail" ? "❌ fail" : "⏳ pending"} | ${cell(i.evidence)} |`);
  const reviews = run?.reviews ?? [];
  if (reviews.length > 0) {
    const verdicts = new Set(reviews.map((r) => r.verdict));
    table.push("", verdicts.size > 1 ? "### Reviewers disagree" : "### Reviews", "", "| reviewer | verdict | confidence | findings |", "|---|---|---|---|");
    for (const r of reviews) {
      const findings = r.findings.map((f) => `${f.severity} ${f.file}:${f.line} ${f.body}`).join("<br>") || "none";
      table.push(`| \`${r.route}\` | ${r.verdict} | ${r.confidence.toFixed(2)} | ${cell(findings)} |`);
    }
  }
  return { title, summary: cap(table.join("\n")) };
}

/** Review findings as check annotations: the lines a person should look at, by severity. */
export function gateAnnotations(run: Run): { path: string; line: number; level: "notice" | "warning" | "failure"; title: string; message: string }[] {
  const level = (s: string) => (s === "critical" || s === "high" ? "failure" : s === "medium" ? "warning" : "notice") as "notice" | "warning" | "failure";
  return run.reviews.flatMap((r) =>
    r.findings.map((f) => ({ path: f.file, line: f.line, level: level(f.severity), title: `${f.severity} (${r.route})`, message: f.body.slice(0, 4000) })),
  );
}

export function renderConfigError(runId: string, errors: readonly string[]): string {
  return cap(
    [
      configErrorMarker(runId),
      "Shopfloor did not start: `.github/shopfloor.yml` on the default branch is invalid.",
      "",
      ...errors.map((e) => `- ${e}`),
      "",
      "Fix the file on the default branch, then remove and re-apply the label.",
    ].join("\n"),
  );
}

export function renderSpend(usage: readonly (Usage & { role: string })[]): string {
  if (usage.length === 0) return "**Spend:** nothing yet.";
  const total = sumUsage(usage);
  const rows = new Map<string, { tokens: number; cost: number; priced: boolean }>();
  for (const u of usage) {
    const key = `${u.role} | \`${u.provider}/${u.model}\``;
    const row = rows.get(key) ?? { tokens: 0, cost: 0, priced: true };
    row.tokens += u.inputTokens + u.outputTokens;
    row.cost += u.costUsd ?? 0;
    row.priced &&= u.costUsd !== null;
    rows.set(key, row);
  }
  const lines = [`**Spend:** $${total.costUsd.toFixed(4)}, ${total.tokens} tokens`, "", "| role | model | tokens | cost |", "|---|---|---|---|"];
  for (const [key, row] of rows) lines.push(`| ${key} | ${row.tokens} | ${row.priced ? `$${row.cost.toFixed(4)}` : "unpriced"} |`);
  return lines.join("\n");
}

function checkbox(state: string): string {
  return state === "ok" ? "✅" : state === "running" ? "⏳" : state === "pending" ? "⬜" : "❌";
}

function oneLine(text: string): string {
  const flat = text.replace(/<!--/g, "<!- -").replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}…` : flat;
}

function cell(text: string): string {
  return oneLine(text).replace(/\|/g, "\\|");
}

function cap(text: string): string {
  return text.length <= maxBody ? text : `${text.slice(0, maxBody)}\n\n… (cut to fit GitHub's size limit)`;
}



export function renderStatus(run: Run): string {
  const running = Object.entries(run.subtasks).filter(([, s]) => s.status === "running").map(([id]) => `\`${id}\``);
  const spent = sumUsage(run.usage);
  return [
    `**Status:** \`${run.phase}\` — ${phaseLine[run.phase]}`,
    running.length > 0 ? `**Working on:** ${running.join(", ")}` : "",
    run.pr ? `**Pull request:** #${run.pr.number}` : "",
    `**Spend:** $${spent.costUsd.toFixed(4)} of $${run.config?.budget.usd ?? "?"}, ${spent.tokens} tokens`,
  ]
    .filter(Boolean)
    .join("\n");
}

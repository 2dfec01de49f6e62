import { sumUsage, type CommandOutcome, type Run } from "../domain/index.js";
import { evaluateGate } from "../orchestrator/gate.js";
import { handoffMarker, renderGateSummary, renderPullRequestBody } from "../orchestrator/render.js";
import type { LocalCheckRun, LocalGitHub } from "./github-model.js";

export interface ReportContext {
  /** The repository's directory. */
  dir: string;
  base: string;
  /** The run branch's tip in the repository, when the branch exists. */
  branchSha: string | undefined;
}

/** Whether `shopfloor run` succeeded: only a gate concluded `success`, as a required check would pass. */
export function passed(run: Run): boolean {
  return run.phase === "gated" && run.gate?.conclusion === "success";
}

/** The commands that failed on the result (a failed install's skipped followers are not named twice). */
export function failingCommands(run: Run): CommandOutcome[] {
  return (run.scrutiny ?? []).filter((c) => c.exitCode !== 0 && c.skipped === undefined);
}

/** The gate check the run published last, as the stand-in holds it. */
export function gateCheck(run: Run, github: LocalGitHub): LocalCheckRun | undefined {
  return github.checkRuns.filter((c) => c.externalId === run.id && (run.gate?.checkRunId === undefined || c.id === run.gate.checkRunId)).at(-1);
}

/**
 * The Markdown report of a local run: what GitHub would show a person — the outcome, the gate's
 * Definition of Done table, the failing commands, the handoff when it stopped, and the pull
 * request body — read from the notes and from what the stand-in holds.
 */
export function renderReport(run: Run, github: LocalGitHub, ctx: ReportContext): string {
  const check = gateCheck(run, github);
  const pull = run.pr ? github.pulls.find((p) => p.number === run.pr!.number) : undefined;
  const spend = sumUsage(run.usage);
  const lines = [
    `# Shopfloor run #${run.issue.number}: ${run.issue.title}`,
    "",
    "| | |",
    "|---|---|",
    `| Result | ${outcome(run)} |`,
    `| Repository | \`${ctx.dir}\` |`,
    `| Base | \`${ctx.base}\`${run.baseSha ? ` at \`${run.baseSha.slice(0, 12)}\`` : ""} |`,
    `| Branch | ${ctx.branchSha ? `\`${run.branch}\` at \`${ctx.branchSha.slice(0, 12)}\`` : "none: no change was made"} |`,
    `| Spend | $${spend.costUsd.toFixed(4)}, ${spend.tokens} tokens |`,
    "",
  ];
  const failing = failingCommands(run);
  if (failing.length > 0) {
    lines.push("## Failing commands", "");
    for (const c of failing) lines.push(`\`${c.cmd}\` (${c.name}) ${c.timedOut ? "timed out" : `exited ${c.exitCode}`}:`, "", fence(c.outputTail.slice(-3000)), "");
  }
  if (run.failure && run.phase !== "gated") lines.push(`**Why it stopped:** ${run.failure.class} / ${run.failure.reason}: ${run.failure.detail}`, "");
  lines.push("## Gate: Definition of Done", "");
  if (check) {
    lines.push(`**${check.title}** (\`${check.conclusion ?? check.status}\`)`, "", unmarked(check.summary), "");
  } else {
    const verdict = evaluateGate(run);
    lines.push(renderGateSummary(verdict, run).summary, "");
  }
  const handoff = github.comments.find((c) => c.issue === run.issue.number && c.body.includes(handoffMarker(run.id)));
  if (run.phase === "escalated" && handoff) lines.push("## Handoff", "", unmarked(handoff.body).replace(/^### Shopfloor needs a person\n+/, ""), "");
  const configError = github.comments.find((c) => c.issue === run.issue.number && c.body.includes("shopfloor:config-error"));
  if (run.phase === "rejected" && configError) lines.push("## Configuration", "", unmarked(configError.body), "");
  lines.push("## Pull request", "", `### ${run.issue.title}`, "", unmarked(pull?.body ?? renderPullRequestBody(run)), "");
  return lines.join("\n");
}

function outcome(run: Run): string {
  if (passed(run)) return "✅ gate `success`: ready for a person to review and merge";
  if (run.phase === "gated") return `❌ gate \`${run.gate?.conclusion ?? "failure"}\``;
  if (run.phase === "escalated") return `⚠️ escalated (gate \`action_required\`): ${run.failure?.reason ?? "a person decides"}`;
  if (run.phase === "rejected") return "❌ not started: `.github/shopfloor.yml` is invalid";
  return `⏸ ${run.phase}`;
}

/** Hidden markers find comments again on GitHub; in a file a person reads they are noise. */
function unmarked(text: string): string {
  return text.replace(/<!-- shopfloor:[^>]*-->\n?/g, "").trim();
}

function fence(text: string): string {
  return ["```", text.replace(/```/g, "ʼʼʼ").trimEnd(), "```"].join("\n");
}

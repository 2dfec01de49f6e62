import { sumUsage, type Event, type Run } from "../../domain/index.js";
import type { JournalEntry } from "../../store/run-store.js";
import { budgetUsd, codeSpans, count, duration, html, safeHref, time, usd, type Html } from "./html.js";
import { gateState, jobWords, section, type Redact } from "./run-work.js";

/** The run view's sections about judging and accounting: gate, reviews, CI, spend, attempts, trace. */

/** A long run's journal has thousands of lines; the latest are what a person reads first. */
const traceShown = 200;

export function gateSection(run: Run, redact: Redact): Html {
  const gate = run.gate;
  if (!gate) return section("gate", "Definition of Done", html`<p>The gate has not been evaluated yet.</p>`);
  const conclusion = gate.conclusion === undefined ? "in progress" : gate.conclusion.replace(/_/g, " ");
  return section(
    "gate",
    "Definition of Done",
    html`<p>The <strong>Shopfloor gate</strong> check: <strong>${conclusion}</strong>.</p>
<table>
<caption>The gate's checklist, as the check run shows it</caption>
<thead><tr><th scope="col">Item</th><th scope="col">State</th><th scope="col">Evidence</th></tr></thead>
<tbody>
${gate.items.map((i) => html`<tr><th scope="row">${codeSpans(i.item)}</th>\n<td>${gateState(i.state)}</td><td>${codeSpans(redact(i.evidence))}</td></tr>\n`)}</tbody>
</table>`,
  );
}

/** One column per reviewer, so a disagreement reads across. */
export function reviewsSection(run: Run, redact: Redact): Html {
  if (run.reviews.length === 0) return section("reviews", "Reviews", html`<p>${run.reviewRound > 0 ? `Round ${run.reviewRound}: no review in yet.` : "No review yet."}</p>`);
  const disagree = new Set(run.reviews.map((r) => r.verdict)).size > 1;
  return section(
    "reviews",
    "Reviews",
    html`<p>Round ${run.reviewRound}${disagree ? html`: <strong>the reviewers disagree</strong>` : ""}.</p>
<div class="reviews">
${run.reviews.map(
  (r) => html`<article aria-labelledby="review-${r.reviewer}">
<h3 id="review-${r.reviewer}"><code>${r.route}</code> <span class="muted">(${r.reviewer})</span></h3>
<p><span class="${r.verdict === "approve" ? "pass" : "fail"}">${r.verdict === "approve" ? "approve" : "request changes"}</span> · confidence ${r.confidence.toFixed(2)}</p>
<p>${redact(r.summary)}</p>
${
  r.findings.length > 0
    ? html`<h4>Findings</h4><ul>${r.findings.map((f) => html`<li><strong>${f.severity}</strong> <code>${f.file}:${f.line}</code> ${redact(f.body)}</li>`)}</ul>`
    : html`<p>No findings.</p>`
}
${
  r.assertionChecks.length > 0
    ? html`<h4>Assertions checked</h4><ul>${r.assertionChecks.map((c) => html`<li><code>${c.id}</code> ${c.holds ? "holds" : "does not hold"}: ${redact(c.evidence)}</li>`)}</ul>`
    : ""
}
</article>
`,
)}</div>`,
  );
}

export function ciSection(run: Run, redact: Redact): Html | string {
  if (!run.ci || run.ci.length === 0) return "";
  return section(
    "ci",
    "Repository CI",
    html`<table>
<caption>Other apps' checks on the head commit</caption>
<thead><tr><th scope="col">Check</th><th scope="col">App</th><th scope="col">Status</th><th scope="col">Conclusion</th></tr></thead>
<tbody>
${run.ci.map((c) => {
  const href = safeHref(c.url);
  return html`<tr><th scope="row">${href ? html`<a href="${href}">${c.name}</a>` : c.name}</th><td>${c.app}</td><td>${c.status}</td><td>${c.conclusion ?? "—"}${c.details && c.conclusion !== "success" ? html`<br><span class="muted">${redact(c.details.slice(0, 500))}</span>` : ""}</td></tr>\n`;
})}</tbody>
</table>`,
  );
}

export function spendSection(run: Run): Html {
  const total = sumUsage(run.usage);
  const budget = run.config?.budget;
  const head = html`<p>${usd(total.costUsd)}${budget ? ` of ${budgetUsd(budget.usd)}` : ""}, ${count(total.tokens)}${budget ? ` of ${count(budget.tokens)}` : ""} tokens.</p>`;
  if (run.usage.length === 0) return section("spend", "Spend", html`${head}<p>Nothing spent yet.</p>`);
  return section("spend", "Spend", html`${head}${spendTable("role", "Spend by role", run.usage.map((u) => [u.role, u]))}${spendTable("model", "Spend by model", run.usage.map((u) => [`${u.provider}/${u.model}`, u]))}`);
}

function spendTable(what: string, caption: string, rows: [string, Run["usage"][number]][]): Html {
  const sums = new Map<string, { usd: number; tokens: number; unpriced: boolean }>();
  for (const [key, u] of rows) {
    const s = sums.get(key) ?? { usd: 0, tokens: 0, unpriced: false };
    s.usd += u.costUsd ?? 0;
    s.tokens += u.inputTokens + u.outputTokens;
    // A model missing from the price table still spends tokens; its dollars are unknown, not zero.
    s.unpriced ||= u.costUsd === null;
    sums.set(key, s);
  }
  return html`<table>
<caption>${caption}</caption>
<thead><tr><th scope="col">${what === "role" ? "Role" : "Model"}</th><th scope="col" class="num">Dollars</th><th scope="col" class="num">Tokens</th></tr></thead>
<tbody>
${[...sums].map(([key, s]) => html`<tr><th scope="row">${key}</th>\n<td class="num">${usd(s.usd)}</td><td class="num">${count(s.tokens)}${s.unpriced ? " (partly unpriced)" : ""}</td></tr>\n`)}</tbody>
</table>`;
}

export function attemptsSection(run: Run, redact: Redact): Html | string {
  if (run.attempts.length === 0) return "";
  return section(
    "attempts",
    "Failed attempts",
    html`<table>
<caption>Every failed attempt, oldest first</caption>
<thead><tr><th scope="col">When</th><th scope="col">Task</th><th scope="col">Why</th></tr></thead>
<tbody>
${run.attempts.map((a) => html`<tr><th scope="row">${time(a.at)}</th><td>${a.task}</td><td>${a.failure.class} / ${a.failure.reason.replace(/_/g, " ")}: ${redact(a.failure.detail)}</td></tr>\n`)}</tbody>
</table>`,
  );
}

/** The journal, newest last: what happened, what the engine made of it, and what it did. */
export function traceSection(run: Run, journal: readonly JournalEntry[], redact: Redact): Html {
  if (journal.length === 0) return section("trace", "Decision trace", html`<p>The journal is empty.</p>`);
  const shown = journal.slice(-traceShown);
  return section(
    "trace",
    "Decision trace",
    html`${journal.length > shown.length ? html`<p class="muted">The last ${shown.length} of ${count(journal.length)} entries.</p>` : ""}
<table>
<caption>The run's journal, newest last</caption>
<thead><tr><th scope="col" class="num">#</th><th scope="col">When</th><th scope="col">Event</th><th scope="col">Note</th><th scope="col">Effects</th><th scope="col">Phase after</th></tr></thead>
<tbody>
${shown.map(
  (e) => html`<tr><th scope="row" class="num">${e.seq}</th><td>${time(e.at)}</td><td><code>${e.event.type}</code>${eventDetail(run.id, e.event, redact) ? html`<br>${eventDetail(run.id, e.event, redact)}` : ""}</td><td>${redact(e.note ?? "")}</td><td>${e.effects.join(", ")}</td><td>${e.phase ?? "—"}</td></tr>\n`,
)}</tbody>
</table>`,
  );
}

/** The few facts of an event a person wants in the trace, without its whole payload. */
function eventDetail(runId: string, e: Event, redact: Redact): string {
  switch (e.type) {
    case "run.requested":
      return `requested by @${e.sender}`;
    case "config.loaded":
      return `default branch ${e.defaultBranch}`;
    case "config.invalid":
      return e.errors.join("; ");
    case "job.succeeded":
      return `${jobWords(runId, e.jobId)}: ${e.output.kind} answered`;
    case "job.failed":
      return `${jobWords(runId, e.jobId)}: ${e.failure.class} / ${e.failure.reason}: ${redact(e.failure.detail).slice(0, 500)}`;
    case "effect.failed":
      return `${e.failure.class} / ${e.failure.reason}: ${redact(e.failure.detail).slice(0, 500)}`;
    case "pr.opened":
      return `pull request #${e.number}`;
    case "gate.published":
      return `check run ${e.checkRunId}`;
    case "ci.read":
      return `${e.checks.length} check(s): ${e.checks.map((c) => `${c.name} ${c.conclusion ?? c.status}`).join(", ")}`;
    case "ci.completed":
      return `on ${e.headSha.slice(0, 7)}`;
    case "command.received":
      return `/${e.command}${e.model ? ` --model ${e.model}` : ""}${e.budgetUsd ? ` --budget ${e.budgetUsd}` : ""}${e.note ? ` ${e.note}` : ""} by @${e.by} (${e.source})${e.error ? `: ${e.error}` : ""}`;
    case "command.refused":
      return `/${e.command} by @${e.by}, who lacks write access`;
    case "job.stalled":
      return `${jobWords(runId, e.jobId)} made no progress for ${duration(e.idleMs)}`;
    case "wait.expired":
      return `waited ${duration(e.waitedMs)} for ${e.waitingFor}`;
    case "pr.closed":
      return `${e.merged ? "merged" : "closed"} by @${e.by}`;
    case "trigger.removed":
      return `label removed by @${e.by}`;
    case "branch.pushed":
      return `${e.headSha.slice(0, 7)} by @${e.by}${e.forced ? " (forced)" : ""}`;
    case "plan.approved":
      return `by @${e.by}`;
    case "comment.upserted":
    case "effect.done":
      return "";
  }
}

import { resumablePhases, terminalPhases, type JobProgress, type Run } from "../../domain/index.js";
import type { JournalEntry } from "../../store/run-store.js";
import { runStateWords, type RunSummary } from "../types.js";
import { budgetUsd, count, duration, html, runPath, safeHref, usd, type Html } from "./html.js";
import { layout, type Flash, type Viewer } from "./layout.js";
import { commandsSection, contractSection, planSection, progressSection, section, subtasksSection, type Redact } from "./run-work.js";
import { attemptsSection, ciSection, gateSection, reviewsSection, spendSection, traceSection } from "./run-record.js";

export interface RunPageInput {
  viewer: Viewer;
  run: Run;
  summary: RunSummary;
  journal: readonly JournalEntry[];
  progress: Record<string, JobProgress>;
  csrf: string;
  now: number;
  /** Command output, reports and failure details may carry secrets: everything of theirs passes through this. */
  redact: Redact;
  flash?: Flash;
}

export function renderRunPage(input: RunPageInput): string {
  const { run, summary } = input;
  const path = runPath(summary.owner, summary.repo, summary.issue);
  return layout({
    title: `${summary.owner}/${summary.repo}#${summary.issue}`,
    viewer: input.viewer,
    csrf: input.csrf,
    events: `${path}/events`,
    ...(input.flash && { flash: input.flash }),
    // The actions stay outside the live region: an update must not wipe a half-typed note.
    top: html`<h1>${summary.owner}/${summary.repo}#${summary.issue}: ${run.issue.title}</h1>\n${actions(run, path, input.csrf)}`,
    live: runLive(input),
  });
}

/** What `#live` holds on the run page. */
export function renderRunLive(input: RunPageInput): string {
  return runLive(input).text;
}

function runLive(input: RunPageInput): Html {
  const { run, redact } = input;
  return html`${statusSection(input)}
${planSection(run)}${contractSection(run, redact)}${subtasksSection(run, redact)}${progressSection(run, input.progress, input.now)}${commandsSection(run, redact)}${gateSection(run, redact)}${reviewsSection(run, redact)}${ciSection(run, redact)}${spendSection(run)}${attemptsSection(run, redact)}${traceSection(run, input.journal, redact)}`;
}

function statusSection(input: RunPageInput): Html {
  const { run, summary: s } = input;
  const end = s.state === "done" || s.state === "cancelled" ? Date.parse(s.updatedAt) : input.now;
  const links = [
    html`<a href="${safeHref(s.links.issue) ?? "#"}">issue #${s.issue}</a>`,
    safeHref(s.links.pr) ? html` · <a href="${safeHref(s.links.pr)!}">pull request${run.pr ? ` #${run.pr.number}` : ""}</a>` : "",
    safeHref(s.links.gate) ? html` · <a href="${safeHref(s.links.gate)!}">gate check</a>` : "",
  ];
  return section(
    "status",
    "Status",
    html`<dl class="facts">
<dt>State</dt><dd><span class="state state-${s.state}">${runStateWords[s.state]}</span>${s.reason ? html` — ${input.redact(s.reason)}` : ""}</dd>
<dt>Now</dt><dd>${s.step}</dd>
${run.phase === "escalated" && run.question ? html`<dt>Question for a person</dt><dd>${input.redact(run.question)}</dd>` : ""}
<dt>Spend</dt><dd>${usd(s.spendUsd)}${s.budgetUsd !== undefined ? ` of ${budgetUsd(s.budgetUsd)}` : ""}, ${count(s.tokens)}${s.budgetTokens !== undefined ? ` of ${count(s.budgetTokens)}` : ""} tokens</dd>
<dt>Failed attempts</dt><dd>${s.attempts}</dd>
<dt>Elapsed</dt><dd>${duration(end - Date.parse(s.createdAt))} (requested by @${run.requestedBy})</dd>
<dt>Branch</dt><dd><code>${run.branch}</code>${run.modelOverride ? html`; retrying on <code>${run.modelOverride}</code>` : ""}</dd>
<dt>Links</dt><dd>${links}</dd>
</dl>`,
  );
}

/**
 * One form per action, shown only where the machine would act on it (steer.ts): a refused
 * button is a button a person should not have been offered.
 */
function actions(run: Run, path: string, csrf: string): Html {
  const form = (action: string, body: Html) => html`<form method="post" action="${path}/actions">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="action" value="${action}">
${body}
</form>
`;
  const terminal = terminalPhases.includes(run.phase);
  const canRetry = resumablePhases.includes(run.phase) && !(run.phase === "gated" && run.gate?.conclusion === "success");
  const canCancel = !terminal || (resumablePhases.includes(run.phase) && run.phase !== "gated");
  const forms = [
    run.phase === "awaiting_approval" ? form("approve", html`<p>The plan waits for a person with write access.</p><button type="submit">Approve the plan</button>`) : "",
    canRetry
      ? form(
          "retry",
          html`<div><label for="retry-note">Note for the next attempt</label>
<textarea id="retry-note" name="note" rows="2" cols="40" maxlength="2000"></textarea></div>
<div><label for="retry-model">Model route (optional)</label>
<input id="retry-model" name="model" type="text" placeholder="openai/gpt-5.4" autocomplete="off" spellcheck="false"></div>
<div><label for="retry-budget">Budget in USD (optional)</label>
<input id="retry-budget" name="budget" type="number" min="0.01" max="1000" step="0.01" inputmode="decimal"></div>
<button type="submit">Retry</button>`,
        )
      : "",
    !terminal
      ? form(
          "escalate",
          html`<div><label for="escalate-note">Why (optional)</label>
<input id="escalate-note" name="note" type="text" maxlength="2000"></div>
<button type="submit">Escalate to a person</button>`,
        )
      : "",
    canCancel ? form("cancel", html`<button type="submit" class="danger">Cancel the run</button>`) : "",
  ].filter((f): f is Html => f !== "");
  const none =
    run.phase === "gated"
      ? "The gate has concluded: a person reviews and merges the pull request, or closes it to end the run."
      : `Nothing to steer: the run is ${run.phase.replace(/_/g, " ")}.`;
  return html`<section aria-labelledby="actions-h">
<h2 id="actions-h">Steer this run</h2>
${forms.length > 0 ? html`<div class="actions">${forms}</div>` : ""}${forms.length === 0 ? html`<p>${none}</p>` : ""}
</section>`;
}

import { assertionEvidence, commandResult, type Assertion, type JobProgress, type Run } from "../../domain/index.js";
import { count, duration, html, type Html } from "./html.js";

/** The run view's sections about the work itself: plan, contract, subtasks, commands, workers. */

export type Redact = (text: string) => string;

export function planSection(run: Run): Html {
  const plan = run.plan;
  if (!plan) return section("plan", "Plan", html`<p>No plan yet.</p>`);
  return section(
    "plan",
    "Plan",
    html`<p>${plan.summary}</p>
<p class="muted">Risk ${plan.risk}${run.approvedBy ? html`; approved by <strong>${run.approvedBy}</strong>` : ""}.</p>
<table>
<caption>Subtasks of the plan</caption>
<thead><tr><th scope="col">Subtask</th><th scope="col">Role</th><th scope="col">Title</th><th scope="col">Files it owns</th><th scope="col">After</th><th scope="col">Status</th><th scope="col" class="num">Attempts</th></tr></thead>
<tbody>
${plan.subtasks.map((s) => {
  const state = run.subtasks[s.id];
  return html`<tr><th scope="row"><code>${s.id}</code></th><td>${s.role}</td><td>${s.title}</td><td>${s.files.map((f, i) => html`${i > 0 ? ", " : ""}<code>${f}</code>`)}</td><td>${s.dependsOn.join(", ") || "—"}</td><td>${statusWords(state?.status ?? "pending")}</td><td class="num">${state?.attempts ?? 0}</td></tr>\n`;
})}</tbody>
</table>`,
  );
}

export function contractSection(run: Run, redact: Redact): Html {
  const assertions = run.plan?.contract.assertions ?? [];
  if (assertions.length === 0) return section("contract", "Validation contract", html`<p>No contract yet: the planner writes it before any code.</p>`);
  return section(
    "contract",
    "Validation contract",
    html`<table>
<caption>What "done" means, and the evidence for each assertion</caption>
<thead><tr><th scope="col">Assertion</th><th scope="col">Says</th><th scope="col">Checked by</th><th scope="col">State</th><th scope="col">Evidence</th></tr></thead>
<tbody>
${assertions.map((a) => {
  const e = assertionEvidence(run, a);
  const check = a.check.kind === "command" ? html`command <code>${a.check.command}</code>` : html`review: ${a.check.rubric}`;
  return html`<tr><th scope="row"><code>${a.id}</code></th><td>${a.text}</td><td>${check}</td><td>${gateState(e.state)}</td><td>${e.evidence.map((line, i) => html`${i > 0 ? html`<br>` : ""}${redact(line)}`)}</td></tr>\n`;
})}</tbody>
</table>`,
  );
}

export function subtasksSection(run: Run, redact: Redact): Html {
  const subtasks = run.plan?.subtasks ?? [];
  if (subtasks.length === 0) return section("subtasks", "Subtasks", html`<p>Nothing built yet.</p>`);
  return section(
    "subtasks",
    "Subtasks",
    subtasks.map((s) => {
      const state = run.subtasks[s.id];
      const r = state?.result;
      return html`<article class="subtask" aria-labelledby="subtask-${s.id}">
<h3 id="subtask-${s.id}"><code>${s.id}</code> ${s.title}</h3>
<p>${statusWords(state?.status ?? "pending")} · ${s.role} · ${state?.attempts ?? 0} attempt(s)${r ? html` · confidence ${r.confidence.toFixed(2)}` : ""}</p>
${state?.failure ? html`<p class="fail">Last failure: ${state.failure.reason.replace(/_/g, " ")}: ${redact(state.failure.detail)}</p>` : ""}
${
  r
    ? html`<p><strong>Report:</strong> ${redact(r.summary)}</p>
<p class="muted">${r.artifact.diffStat}: ${r.artifact.filesChanged.map((f, i) => html`${i > 0 ? ", " : ""}<code>${f}</code>`)}</p>
${list("Completed", r.handoff.completed, redact)}${list("Remaining", r.handoff.remaining, redact)}${list("Issues", r.handoff.issues, redact)}
${
  r.handoff.commands.length > 0
    ? html`<table>
<caption>Commands the worker ran</caption>
<thead><tr><th scope="col">Command</th><th scope="col" class="num">Exit code</th><th scope="col" class="num">Time</th></tr></thead>
<tbody>
${r.handoff.commands.map((c) => html`<tr><th scope="row"><code>${redact(c.cmd)}</code></th>\n<td class="num">${c.exitCode}</td><td class="num">${seconds(c.ms)}</td></tr>\n`)}</tbody>
</table>`
    : html`<p>The worker reported no commands.</p>`
}
<p class="muted">${r.handoff.followedProcedure ? "Followed the procedure." : "Says it did not follow the procedure."}</p>`
    : ""
}
</article>
`;
    }),
  );
}

function list(title: string, items: readonly string[], redact: Redact): Html | string {
  if (items.length === 0) return "";
  return html`<h4>${title}</h4><ul>${items.map((i) => html`<li>${redact(i)}</li>`)}</ul>\n`;
}

export function commandsSection(run: Run, redact: Redact): Html {
  const commands = run.scrutiny;
  if (!commands) return section("commands", "Commands run", html`<p>The repository's commands have not run yet.</p>`);
  const t = run.integrity;
  return section(
    "commands",
    "Commands run",
    html`${commands.length === 0 ? html`<p>No command configured: set <code>commands</code> in <code>.github/shopfloor.yml</code>.</p>` : ""}
${commands.map(
  (c) => html`<h3><code>${redact(c.cmd)}</code> (${c.name})</h3>
<p>${gateState(c.exitCode === 0 && !c.skipped && !c.timedOut ? "pass" : "fail")} ${commandResult(c)}</p>
${c.outputTail.trim() ? html`<pre tabindex="0" aria-label="output of ${c.name}">${redact(c.outputTail)}</pre>` : ""}
`,
)}
${
  t
    ? html`<p><strong>Test integrity:</strong> ${count(t.testCountBase)} → ${count(t.testCountHead)} tests; ${
        t.deletedTests.length + t.newSkips.length === 0 ? "no test deleted or skipped" : [...t.deletedTests.map((f) => `deleted ${f}`), ...t.newSkips.map((s) => `new skip: ${s}`)].join("; ")
      }${t.protectedTouched.length > 0 ? `; protected paths changed: ${t.protectedTouched.join(", ")}` : ""}${t.conflicts.length > 0 ? `; conflicts: ${t.conflicts.join(", ")}` : ""}.</p>`
    : ""
}`,
  );
}

export function progressSection(run: Run, progress: Record<string, JobProgress>, now: number): Html {
  const reports = Object.values(progress).sort((a, b) => a.jobId.localeCompare(b.jobId));
  if (reports.length === 0) return section("progress", "Worker progress", html`<p>No worker is running for this run.</p>`);
  return section(
    "progress",
    "Worker progress",
    html`<table>
<caption>Each running job's last report</caption>
<thead><tr><th scope="col">Job</th><th scope="col" class="num">Turns</th><th scope="col" class="num">Tool calls</th><th scope="col" class="num">Files changed</th><th scope="col" class="num">Spent so far</th><th scope="col">Last report</th></tr></thead>
<tbody>
${reports.map(
  (p) => html`<tr><th scope="row">${jobWords(run.id, p.jobId)}</th>
<td class="num">${p.turn}</td>
<td class="num">${p.toolCalls}</td>
<td class="num">${p.filesChanged}</td>
<td class="num">${p.costUsd !== undefined ? `$${p.costUsd.toFixed(2)}${p.tokens !== undefined ? ` · ${count(p.tokens)} tokens` : ""}` : "—"}</td>
<td>${duration(now - Date.parse(p.at))} ago</td></tr>
`,
)}</tbody>
</table>`,
  );
}

/** `octo/app#7:review:r1:r1:a2` → "review r1, round 1, attempt 2". */
export function jobWords(runId: string, jobId: string): string {
  const rest = jobId.startsWith(`${runId}:`) ? jobId.slice(runId.length + 1) : jobId;
  const [kind = "job", ...parts] = rest.split(":");
  const attempt = /(?:g\d+)?a(\d+)$/.exec(rest)?.[1];
  const tail = attempt ? `, attempt ${attempt}` : "";
  if (kind === "build") return `build ${parts[0] ?? ""}${tail}`;
  if (kind === "review") return `review ${parts[0] ?? ""}${parts[1] ? `, round ${parts[1].replace(/^r/, "")}` : ""}${tail}`;
  return `${kind}${tail}`;
}

export function section(id: string, title: string, body: Part): Html {
  return html`<section aria-labelledby="${id}-h">
<h2 id="${id}-h">${title}</h2>
${body}
</section>
`;
}
type Part = Html | readonly Html[];

export function gateState(state: "pass" | "fail" | "pending"): Html {
  return html`<span class="${state}">${state === "pass" ? "✓ pass" : state === "fail" ? "✗ fail" : "… pending"}</span>`;
}

function statusWords(status: string): Html {
  const state = status === "ok" ? "pass" : status === "pending" || status === "running" ? "pending" : "fail";
  return html`<span class="${state}">${status}</span>`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}


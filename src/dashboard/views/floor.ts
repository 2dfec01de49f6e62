import { runStateWords, runStates, type FloorView } from "../types.js";
import { count, duration, html, raw, usd, type Html } from "./html.js";
import { layout, type Flash, type Viewer } from "./layout.js";

export interface FloorPageInput {
  viewer: Viewer;
  floor: FloorView;
  now: number;
  csrf: string;
  flash?: Flash;
}

export function renderFloorPage(input: FloorPageInput): string {
  return layout({
    title: "Floor",
    viewer: input.viewer,
    csrf: input.csrf,
    current: "floor",
    events: "/shopfloor/floor/events",
    ...(input.flash && { flash: input.flash }),
    top: html`<h1>Floor</h1>`,
    live: floorLive(input),
  });
}

/** What `#live` holds on the floor page. */
export function renderFloorLive(input: FloorPageInput): string {
  return floorLive(input).text;
}

function floorLive({ floor }: FloorPageInput): Html {
  return html`${runners(floor)}${spend(floor)}${perDay(floor)}${escalations(floor)}`;
}

function runners(floor: FloorView): Html {
  const q = floor.queue;
  const queue =
    q.waiting === 0
      ? "No job is waiting."
      : `${count(q.waiting)} ${q.waiting === 1 ? "job" : "jobs"} waiting${q.oldestWaitingMs !== undefined ? `; oldest waiting ${duration(q.oldestWaitingMs)}` : ""}.`;
  const table =
    floor.runners.length === 0
      ? html`<p>No runner has reported a job.</p>`
      : html`<table>
<caption>Runners and their current jobs</caption>
<thead><tr><th scope="col">Runner</th><th scope="col" class="num">Active jobs</th><th scope="col">Jobs</th></tr></thead>
<tbody>
${floor.runners.map((r) => html`<tr><th scope="row">${r.name}</th><td class="num">${r.active}</td><td>${r.jobs.length > 0 ? html`<ul>${r.jobs.map((j) => html`<li><code>${j}</code></li>`)}</ul>` : "idle"}</td></tr>\n`)}</tbody>
</table>`;
  return html`<section aria-labelledby="runners-h"><h2 id="runners-h">Runners and queue</h2>
<p>${queue}</p>
${table}</section>
`;
}

function spend(floor: FloorView): Html {
  const today = floor.spend.reduce((n, r) => n + r.todayUsd, 0);
  const month = floor.spend.reduce((n, r) => n + r.monthUsd, 0);
  const body =
    floor.spend.length === 0
      ? html`<p>No repository has had a run this month.</p>`
      : html`<table>
<caption>Budget burned per repository (UTC days)</caption>
<thead><tr><th scope="col">Repository</th><th scope="col" class="num">Today</th><th scope="col" class="num">This month</th></tr></thead>
<tbody>
${floor.spend.map((r) => html`<tr><th scope="row">${r.repo}</th>\n<td class="num">${usd(r.todayUsd)}</td>\n<td class="num">${usd(r.monthUsd)}</td></tr>\n`)}</tbody>
<tfoot><tr><th scope="row">All repositories</th><td class="num">${usd(today)}</td><td class="num">${usd(month)}</td></tr></tfoot>
</table>`;
  return html`<section aria-labelledby="spend-h"><h2 id="spend-h">Spend</h2>
${body}</section>
`;
}

function perDay(floor: FloorView): Html {
  const totals = floor.perDay.map((d) => runStates.reduce((n, s) => n + d.counts[s], 0));
  const most = Math.max(1, ...totals);
  return html`<section aria-labelledby="days-h"><h2 id="days-h">Runs per day</h2>
<table>
<caption>Runs started on each of the last ${floor.perDay.length} days (UTC), by their state now</caption>
<thead><tr><th scope="col">Day</th>${runStates.map((s) => html`<th scope="col" class="num">${runStateWords[s]}</th>`)}<th scope="col">Total</th></tr></thead>
<tbody>
${floor.perDay.map(
  (d, i) => html`<tr>
<th scope="row"><time datetime="${d.day}">${dayWords(d.day)}</time></th>${runStates.map((s) => html`<td class="num">${d.counts[s]}</td>`)}<td>${totals[i]}${raw(`<span class="bar w${Math.round((totals[i]! / most) * 20) * 5}" aria-hidden="true"></span>`)}</td></tr>
`,
)}</tbody>
</table></section>
`;
}

function escalations(floor: FloorView): Html {
  const body =
    floor.escalations.length === 0
      ? html`<p>No run is escalated.</p>`
      : html`<table>
<caption>Why runs stopped for a person, most frequent first</caption>
<thead><tr><th scope="col">Reason</th><th scope="col" class="num">Runs</th></tr></thead>
<tbody>
${floor.escalations.map((e) => html`<tr><th scope="row">${reasonWords(e.reason)} <code>${e.reason}</code></th>\n<td class="num">${e.count}</td></tr>\n`)}</tbody>
</table>`;
  return html`<section aria-labelledby="escalations-h"><h2 id="escalations-h">Escalation reasons</h2>
${body}</section>
`;
}

/** `permanent/budget_exhausted` → "budget exhausted". */
function reasonWords(reason: string): string {
  return (reason.split("/").pop() ?? reason).replace(/_/g, " ");
}

/** `2026-11-21` → "Sat 21 Nov". */
function dayWords(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return day;
  return d.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
}

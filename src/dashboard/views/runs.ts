import { runStateWords, runStates, type RunState, type RunSummary } from "../types.js";
import { filterSummaries, sortForTeamLead } from "../summary.js";
import { budgetUsd, count, duration, html, runPath, safeHref, usd, type Html } from "./html.js";
import { layout, type Flash, type Viewer } from "./layout.js";

/**
 * The live stream resends the whole table on a change: past this many rows (the oldest finished
 * runs, as they sort last) the filters are the way in, so a page stays small.
 */
const maxRows = 200;

export interface RunsFilter {
  state?: RunState;
  repo?: string;
}

export interface RunsPageInput {
  viewer: Viewer;
  /** The runs this person may read; the view counts them per state, then filters and sorts. */
  summaries: readonly RunSummary[];
  filter: RunsFilter;
  /** Repositories to offer in the filter, `owner/repo`. */
  repos: readonly string[];
  csrf: string;
  now: number;
  flash?: Flash;
}

export function renderRunsPage(input: RunsPageInput): string {
  return layout({
    title: "Runs",
    viewer: input.viewer,
    csrf: input.csrf,
    current: "runs",
    events: `/shopfloor/events${query(input.filter)}`,
    ...(input.flash && { flash: input.flash }),
    top: html`<h1>Runs</h1>\n${filterForm(input)}`,
    live: runsLive(input),
  });
}

/** What `#live` holds on the runs page: the counts and the table. */
export function renderRunsLive(input: RunsPageInput): string {
  return runsLive(input).text;
}

function runsLive(input: RunsPageInput): Html {
  // Counts follow the repository filter but not the state filter: they say what else is waiting.
  const inRepo = filterSummaries(input.summaries, input.filter.repo ? { repo: input.filter.repo } : {});
  const matching = sortForTeamLead(filterSummaries(inRepo, input.filter));
  const rows = matching.slice(0, maxRows);
  const body =
    rows.length > 0
      ? html`${matching.length > rows.length ? html`<p>Showing the first ${count(rows.length)} of ${count(matching.length)} runs: filter by state or repository to see the rest.</p>\n` : ""}<table>
<caption>${matching.length === 1 ? "1 run" : `${count(matching.length)} runs`}, those that need you first</caption>
<thead><tr><th scope="col">Run</th><th scope="col">State</th><th scope="col">Step</th><th scope="col" class="num">Failed attempts</th><th scope="col">Spend</th><th scope="col">Elapsed</th><th scope="col">Links</th></tr></thead>
<tbody>
${rows.map((s) => row(s, input.now))}</tbody>
</table>`
      : html`<p>${input.summaries.length === 0 ? "No runs yet: label an issue agent:build to start one." : "No run matches this filter."}</p>`;
  return html`${counts(inRepo, input.filter.repo)}\n${body}`;
}

function counts(summaries: readonly RunSummary[], repo: string | undefined): Html {
  const n = Object.fromEntries(runStates.map((s) => [s, 0])) as Record<RunState, number>;
  for (const s of summaries) n[s.state] += 1;
  const parts = runStates.map((state) => {
    // "1 needs you", "3 need you": the one phrase whose verb follows the number.
    const words = state === "needs_you" && n[state] !== 1 ? "need you" : runStateWords[state];
    return html`<a href="/shopfloor${query({ state, ...(repo && { repo }) })}">${count(n[state])} ${words}</a>`;
  });
  return html`<p class="counts">${parts.map((p, i) => (i === 0 ? p : html` · ${p}`))}</p>`;
}

function row(s: RunSummary, now: number): Html {
  const name = `${s.owner}/${s.repo}#${s.issue}`;
  // A finished run's elapsed time is how long it took; an open one's is how long it has been going.
  const end = s.state === "done" || s.state === "cancelled" ? Date.parse(s.updatedAt) : now;
  const links = [
    link(s.links.issue, "issue", name),
    link(s.links.pr, "PR", name),
    link(s.links.gate, "gate", name),
  ].filter((l): l is Html => l !== undefined);
  return html`<tr>
<th scope="row"><a href="${runPath(s.owner, s.repo, s.issue)}">${name}</a><br><span class="muted">${s.title}</span></th>
<td><span class="state state-${s.state}">${runStateWords[s.state]}</span>${s.reason ? html`<br>${s.reason}` : ""}</td>
<td>${s.step}</td>
<td class="num">${s.attempts}</td>
<td>${usd(s.spendUsd)}${s.budgetUsd !== undefined ? ` of ${budgetUsd(s.budgetUsd)}` : ""}<br><span class="muted">${count(s.tokens)} tokens</span></td>
<td>${duration(end - Date.parse(s.createdAt))}</td>
<td>${links.map((l, i) => (i === 0 ? l : html` · ${l}`))}</td>
</tr>
`;
}

function link(url: string | undefined, label: string, run: string): Html | undefined {
  const href = safeHref(url);
  return href ? html`<a href="${href}">${label}<span class="vh"> of ${run}</span></a>` : undefined;
}

function filterForm(input: RunsPageInput): Html {
  const repos = input.filter.repo && !input.repos.includes(input.filter.repo) ? [...input.repos, input.filter.repo] : input.repos;
  const option = (value: string, text: string, selected: boolean) => html`<option value="${value}"${selected ? html` selected` : ""}>${text}</option>`;
  return html`<form method="get" class="filter" aria-label="Filter the runs">
<div><label for="filter-state">State</label>
<select id="filter-state" name="state">${option("", "every state", !input.filter.state)}${runStates.map((s) => option(s, runStateWords[s], input.filter.state === s))}</select></div>
<div><label for="filter-repo">Repository</label>
<select id="filter-repo" name="repo">${option("", "every repository", !input.filter.repo)}${repos.map((r) => option(r, r, input.filter.repo === r))}</select></div>
<div><button type="submit">Filter</button></div>
</form>`;
}

function query(filter: RunsFilter): string {
  const params = new URLSearchParams();
  if (filter.state) params.set("state", filter.state);
  if (filter.repo) params.set("repo", filter.repo);
  const text = params.toString();
  return text ? `?${text}` : "";
}

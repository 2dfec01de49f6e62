import { describe, expect, it } from "vitest";
import { defaultRepoConfig, type JobProgress, type Run } from "../../src/domain/index.js";
import type { JournalEntry } from "../../src/store/run-store.js";
import { summarizeRun } from "../../src/dashboard/summary.js";
import { floorView } from "../../src/dashboard/floor.js";
import { runNotes } from "../orchestrator/fixtures.js";
import {
  clientScript,
  pageStyle,
  renderFloorLive,
  renderFloorPage,
  renderMessagePage,
  renderRunLive,
  renderRunPage,
  renderRunsLive,
  renderRunsPage,
  renderSignInPage,
} from "../../src/dashboard/views.js";

const webUrl = "https://github.com";
const now = Date.parse("2026-11-21T10:12:00.000Z");
const viewer = { login: "lead" };
const csrf = "csrf-token-1";
const hostileTitle = `<script>alert(1)</script>" onmouseover="alert(2)`;
const secret = "ghs_SECRETVALUE123";
const redact = (s: string) => s.split(secret).join("[redacted]");

const usage = (role: string, model: string, costUsd: number) => ({ role, provider: model.split("/")[0]!, model: model.split("/")[1]!, inputTokens: 1000, outputTokens: 200, cachedTokens: 0, costUsd, at: "2026-11-21T10:05:00.000Z" });

const plan = {
  summary: "Add farewell() and document it",
  risk: "low",
  subtasks: [
    { id: "impl", role: "generate", title: "Implement farewell", brief: "Write src/farewell.js", files: ["src/farewell.js"], assertions: ["A1"] },
    { id: "docs", role: "generate", title: "Document farewell", brief: "README", files: ["README.md"], dependsOn: ["impl"], assertions: ["A2"] },
  ],
  contract: {
    assertions: [
      { id: "A1", text: "farewell('Ann') returns 'Goodbye, Ann!'", check: { kind: "command", command: "npm test" } },
      { id: "A2", text: "README documents farewell", check: { kind: "review", rubric: "README mentions farewell" } },
    ],
  },
};

const result = (headSha: string, files: string[], extra: Record<string, unknown> = {}) => ({
  status: "ok",
  confidence: 0.9,
  summary: `wrote ${files.join(", ")}`,
  handoff: {
    completed: ["wrote farewell"],
    remaining: ["edge cases for empty names"],
    commands: [{ cmd: "npm test -- farewell", exitCode: 0, ms: 1200 }, { cmd: "npm run lint", exitCode: 2, ms: 300 }],
    issues: ["lint complains about a <b>long</b> line"],
    followedProcedure: true,
  },
  artifact: { kind: "diff", headSha, diffStat: "1 file changed", filesChanged: files },
  usage: [],
  trace: [],
  ...extra,
});

const review = (reviewer: string, route: string, verdict: "approve" | "request_changes", findings: unknown[]) => ({
  verdict,
  summary: `${reviewer} says ${verdict}`,
  confidence: 0.8,
  findings,
  assertionChecks: [{ id: "A2", holds: true, evidence: "README has a farewell section" }],
  reviewer,
  route,
  headSha: "head2",
  onDiff: findings.map(() => true),
  usage: [],
  trace: [],
});

function builtRun(patch: Record<string, unknown> = {}): Run {
  return runNotes({
    updatedAt: "2026-11-21T10:10:00.000Z",
    phase: "awaiting_ci",
    config: defaultRepoConfig,
    defaultBranch: "main",
    branch: "shopfloor/7-add-farewell",
    baseSha: "base0",
    headSha: "head2",
    plan,
    subtasks: { impl: { status: "ok", attempts: 1, result: result("head1", ["src/farewell.js"]) }, docs: { status: "ok", attempts: 2, result: result("head2", ["README.md"]) } },
    scrutiny: [
      { name: "install", cmd: "npm ci", exitCode: 0, ms: 0, timedOut: false, outputTail: "", restored: true },
      { name: "test", cmd: "npm test", exitCode: 0, ms: 900, timedOut: false, outputTail: `4 passing\nTOKEN=${secret}\n<img src=x>` },
    ],
    integrity: { deletedTests: [], newSkips: [], testCountBase: 3, testCountHead: 4, protectedTouched: [], conflicts: [] },
    usage: [usage("planner", "anthropic/claude-sonnet-4-5", 0.1), usage("generator", "openai/gpt-5", 0.2), usage("generator", "openai/gpt-5", 0.3), usage("reviewer", "openai/gpt-5", 0.05)],
    pr: { number: 12, url: "https://github.com/octo/app/pull/12" },
    gate: {
      items: [
        { item: "Every subtask reported ok", state: "pass", evidence: "impl: ok, docs: ok" },
        { item: "Repository CI green on the head commit", state: "pending", evidence: "build: in_progress" },
      ],
      checkRunId: 991,
    },
    reviewRound: 1,
    reviews: [
      review("r1", "anthropic/claude-sonnet-4-5", "approve", []),
      review("r2", "openai/gpt-5", "request_changes", [{ file: "src/farewell.js", line: 3, severity: "high", body: "empty name gives 'Goodbye, !'" }]),
    ],
    ...patch,
  });
}

const journal: JournalEntry[] = [
  {
    seq: 1,
    at: "2026-11-21T10:00:00.000Z",
    event: { type: "run.requested", runId: "octo/app#7", at: "2026-11-21T10:00:00.000Z", deliveryId: "d-1", repo: { owner: "octo", name: "app", installationId: 42 }, issue: { number: 7, title: "t", body: "b" }, sender: "writer" },
    effects: ["loadConfig"],
    phase: "configuring",
    note: "first sighting",
  },
  {
    seq: 2,
    at: "2026-11-21T10:09:00.000Z",
    event: { type: "pr.opened", runId: "octo/app#7", at: "2026-11-21T10:09:00.000Z", key: "k", number: 12, url: "https://github.com/octo/app/pull/12" },
    effects: ["dispatchJob", "publishGate"],
    phase: "reviewing",
  },
];

const progress: Record<string, JobProgress> = {
  "octo/app#7:review:r1:r1:a1": { jobId: "octo/app#7:review:r1:r1:a1", at: "2026-11-21T10:11:30.000Z", turn: 6, toolCalls: 17, filesChanged: 0 },
};

function runPage(run: Run, extra: Record<string, unknown> = {}) {
  return { viewer, run, summary: summarizeRun(run, { webUrl }), journal, progress, csrf, now, redact, ...extra };
}

/** Every attribute name in the markup: none may be an inline event handler. */
const handlerAttributes = (html: string) => html.match(/<[^>]*\son[a-z]+\s*=/gi) ?? [];

describe("the layout every page shares", () => {
  it("is a complete, accessible document with one script of our own and no inline handlers", () => {
    const run = builtRun();
    const pages = [
      renderRunsPage({ viewer, summaries: [summarizeRun(run, { webUrl })], filter: {}, repos: ["octo/app"], csrf, now }),
      renderRunPage(runPage(run)),
      renderFloorPage({ viewer, floor: floorView([], { waiting: 0, activeByRunner: {} }, now), now, csrf }),
    ];
    for (const html of pages) {
      expect(html.startsWith("<!doctype html>")).toBe(true);
      expect(html).toContain('<html lang="en">');
      expect(html).toMatch(/<a[^>]*class="skip"[^>]*href="#main"|<a[^>]*href="#main"[^>]*class="skip"/);
      expect(html).toContain('<main id="main"');
      expect(html).toContain('<div id="live" aria-live="polite">');
      expect(html).toContain(`<script>${clientScript}</script>`);
      expect(html.match(/<script/g)).toHaveLength(1);
      expect(html).toContain(`<style>${pageStyle}</style>`);
      expect(html).not.toMatch(/<link|src="http/);
      expect(handlerAttributes(html)).toEqual([]);
      // The nav: the two views, who is signed in, and a sign-out that carries the CSRF token.
      expect(html).toMatch(/<nav[^>]*>[\s\S]*href="\/shopfloor"[\s\S]*href="\/shopfloor\/floor"[\s\S]*lead[\s\S]*<\/nav>/);
      expect(html).toMatch(/<form method="post" action="\/shopfloor\/logout">[\s\S]*?name="csrf" value="csrf-token-1"[\s\S]*?<\/form>/);
    }
  });

  it("opens the live stream without polling and replaces #live on each update", () => {
    expect(clientScript).toContain("new EventSource(document.body.dataset.events)");
    expect(clientScript).toContain('"update"');
    expect(clientScript).toContain("innerHTML");
    expect(clientScript).not.toMatch(/setInterval|setTimeout|fetch\(/);
    expect(pageStyle).toContain(":focus-visible");
  });

  it("escapes the flash message from the URL", () => {
    const html = renderRunsPage({ viewer, summaries: [], filter: {}, repos: [], csrf, now, flash: { kind: "error", text: "<script>x()</script> no" } });
    expect(html).toContain("&lt;script&gt;x()&lt;/script&gt; no");
    expect(html).toMatch(/role="alert"/);
    const ok = renderRunsPage({ viewer, summaries: [], filter: {}, repos: [], csrf, now, flash: { kind: "ok", text: "retrying" } });
    expect(ok).toMatch(/role="status"[^>]*>[\s\S]*retrying/);
  });
});

describe("the runs view", () => {
  const escalated = builtRun({
    phase: "escalated",
    failure: { class: "permanent", reason: "budget_exhausted", detail: "spent 86 % of the budget (pause at 85 %)" },
    usage: [usage("generator", "openai/gpt-5", 1.234)],
  });

  it("shows a row with what a person needs: run, state and why, step, attempts, spend of budget, tokens, elapsed, links", () => {
    const html = renderRunsPage({ viewer, summaries: [summarizeRun(escalated, { webUrl })], filter: {}, repos: ["octo/app"], csrf, now });
    const row = /<tr>[\s\S]*?<\/tr>/g;
    const rows = html.match(row)!.filter((r) => r.includes("octo/app"));
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    expect(r).toContain('href="/shopfloor/runs/octo/app/7"');
    expect(r).toContain("needs you");
    expect(r).toContain("paused at budget");
    expect(r).toContain("$1.23 of $5");
    expect(r).toContain("1,200 tokens");
    expect(r).toContain("12 min");
    expect(r).toContain('href="https://github.com/octo/app/issues/7"');
    expect(r).toContain('href="https://github.com/octo/app/pull/12"');
    expect(r).toContain('href="https://github.com/octo/app/pull/12/checks?check_run_id=991"');
  });

  it("counts runs per state at the top and lists the ones that need a person first", () => {
    const summaries = [
      summarizeRun(builtRun({ id: "octo/app#1", issue: { number: 1, title: "working one", body: "" }, phase: "building" }), { webUrl }),
      summarizeRun(builtRun({ id: "octo/app#2", issue: { number: 2, title: "waiting one", body: "" }, phase: "awaiting_approval" }), { webUrl }),
      summarizeRun(builtRun({ id: "octo/app#3", issue: { number: 3, title: "working two", body: "" }, phase: "planning" }), { webUrl }),
    ];
    const html = renderRunsPage({ viewer, summaries, filter: {}, repos: ["octo/app"], csrf, now });
    expect(html.replace(/<[^>]+>/g, "")).toMatch(/1 needs you · 2 working · 0 waiting on CI · 0 ready for review · 0 done · 0 cancelled/);
    // Each count filters the list to its state.
    expect(html).toContain('<a href="/shopfloor?state=needs_you">1 needs you</a>');
    expect(html.indexOf("waiting one")).toBeLessThan(html.indexOf("working one"));
  });

  it("renders hostile issue titles inert", () => {
    const run = builtRun({ issue: { number: 7, title: hostileTitle, body: "" }, repo: { owner: "octo", name: "a<b>", installationId: 1 } });
    const html = renderRunsPage({ viewer: { login: "<i>lead</i>" }, summaries: [summarizeRun(run, { webUrl })], filter: { repo: "octo/a<b>" }, repos: ["octo/a<b>"], csrf, now });
    expect(html).not.toContain("<script>alert(1)");
    expect(html).not.toMatch(/"\s*onmouseover=/);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;alert(2)");
    expect(html).not.toContain("<i>lead</i>");
    expect(html).not.toContain("a<b>");
    expect(handlerAttributes(html)).toEqual([]);
  });

  it("has a GET filter form with labelled selects for state and repository, keeping the choice", () => {
    const html = renderRunsPage({ viewer, summaries: [], filter: { state: "needs_you", repo: "octo/lib" }, repos: ["octo/app", "octo/lib"], csrf, now });
    const form = html.match(/<form method="get"[\s\S]*?<\/form>/)![0];
    expect(form).toMatch(/<label for="filter-state">/);
    expect(form).toMatch(/<select id="filter-state" name="state">/);
    expect(form).toMatch(/<label for="filter-repo">/);
    expect(form).toMatch(/<select id="filter-repo" name="repo">/);
    expect(form).toContain('<option value="needs_you" selected>needs you</option>');
    expect(form).toContain('<option value="octo/lib" selected>octo/lib</option>');
    // The live stream asks for the same filter.
    expect(html).toContain('data-events="/shopfloor/events?state=needs_you&amp;repo=octo%2Flib"');
  });

  it("says so when no run matches", () => {
    const live = renderRunsLive({ viewer, summaries: [summarizeRun(escalated, { webUrl })], filter: { state: "done" }, repos: ["octo/app"], csrf, now });
    expect(live).toMatch(/No run matches/);
    expect(live).not.toContain("<table");
    expect(renderRunsLive({ viewer, summaries: [], filter: {}, repos: [], csrf, now })).toMatch(/No runs yet/);
  });

  it("keeps the page small with many runs: the first 200 in order, and how to find the rest", () => {
    const many = Array.from({ length: 250 }, (_, i) =>
      summarizeRun(builtRun({ id: `octo/app#${i + 1}`, issue: { number: i + 1, title: `run ${i + 1}`, body: "" }, phase: i === 249 ? "escalated" : "done" }), { webUrl }),
    );
    const live = renderRunsLive({ viewer, summaries: many, filter: {}, repos: ["octo/app"], csrf, now });
    expect(live.match(/<tr>\s*<th scope="row">/g)).toHaveLength(200);
    expect(live).toContain("Showing the first 200 of 250 runs");
    // The one that needs a person is never the one cut off.
    expect(live).toContain('href="/shopfloor/runs/octo/app/250"');
  });

  it("renders the live fragment without the page around it", () => {
    const live = renderRunsLive({ viewer, summaries: [summarizeRun(escalated, { webUrl })], filter: {}, repos: [], csrf, now });
    expect(live).not.toContain("<html");
    expect(live).not.toContain('id="live"');
    expect(live).toContain("<caption>");
    expect(live).toMatch(/<th scope="col">/);
  });
});

describe("the run view", () => {
  it("shows the plan, the contract with evidence, reports, the gate, the trace, progress, commands, spend and reviews", () => {
    const html = renderRunLive(runPage(builtRun()));
    for (const heading of ["Plan", "Validation contract", "Subtasks", "Definition of Done", "Worker progress", "Commands", "Spend", "Reviews", "Decision trace"]) {
      expect(html).toMatch(new RegExp(`<h2[^>]*>${heading}`));
    }
    // The contract: each assertion with its evidence.
    expect(html).toMatch(/A1[\s\S]*npm test[\s\S]*exit 0 in 0\.9 s/);
    expect(html).toMatch(/A2[\s\S]*README has a farewell section/);
    // Each subtask's report and handoff.
    expect(html).toContain("edge cases for empty names");
    expect(html).toMatch(/npm run lint<\/code><\/th>\s*<td class="num">2<\/td>/);
    expect(html).toContain("lint complains about a &lt;b&gt;long&lt;/b&gt; line");
    // The gate's items as it shows them.
    expect(html).toMatch(/Repository CI green on the head commit<\/th>\s*<td><span class="pending">[^<]*pending/);
    // Live progress.
    expect(html).toMatch(/review r1[\s\S]*?<td class="num">6<\/td>\s*<td class="num">17<\/td>\s*<td class="num">0<\/td>/);
    // Spend per role and per model.
    expect(html).toMatch(/generator<\/th>\s*<td class="num">\$0\.50<\/td>/);
    expect(html).toMatch(/openai\/gpt-5<\/th>\s*<td class="num">\$0\.55<\/td>/);
    // Reviews side by side, with findings at file:line.
    expect(html).toMatch(/class="reviews"[\s\S]*anthropic\/claude-sonnet-4-5[\s\S]*approve[\s\S]*openai\/gpt-5[\s\S]*request changes[\s\S]*src\/farewell\.js:3/);
    // The decision trace, newest last.
    expect(html.indexOf("run.requested")).toBeLessThan(html.indexOf("pr.opened"));
    expect(html).toContain("first sighting");
    expect(html).toMatch(/dispatchJob[\s\S]*publishGate/);
  });

  it("passes command output through redact and escapes it", () => {
    const html = renderRunLive(runPage(builtRun()));
    expect(html).toContain("TOKEN=[redacted]");
    expect(html).not.toContain(secret);
    expect(html).toContain("&lt;img src=x&gt;");
  });

  it("renders a hostile title and review text inert", () => {
    const run = builtRun({
      issue: { number: 7, title: hostileTitle, body: "<script>b()</script>" },
      reviews: [review("r1", "openai/gpt-5", "request_changes", [{ file: "src/x.js", line: 1, severity: "low", body: `<script>c()</script>"onmouseover=x` }])],
    });
    const html = renderRunPage(runPage(run));
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toMatch(/"\s*onmouseover=/);
    expect(handlerAttributes(html)).toEqual([]);
  });

  it("offers Approve only while the plan waits for it, and keeps the forms outside the live region", () => {
    const waiting = builtRun({ phase: "awaiting_approval", subtasks: {}, scrutiny: undefined, reviews: [], gate: undefined, pr: undefined });
    const page = renderRunPage(runPage(waiting));
    expect(page).toMatch(/<input type="hidden" name="action" value="approve">/);
    expect(renderRunPage(runPage(builtRun()))).not.toMatch(/value="approve"/);
    const live = renderRunLive(runPage(waiting));
    expect(live).not.toContain("<form");
    const liveStart = page.indexOf('<div id="live"');
    const liveEnd = page.indexOf("<!-- /live -->");
    expect(liveEnd).toBeGreaterThan(liveStart);
    const forms = [...page.matchAll(/<form method="post" action="\/shopfloor\/runs\/octo\/app\/7\/actions">/g)];
    expect(forms.length).toBeGreaterThan(0);
    for (const f of forms) expect(f.index! < liveStart || f.index! > liveEnd).toBe(true);
  });

  it("posts each action with the CSRF token; Retry takes a labelled note, model route and budget", () => {
    const run = builtRun({ phase: "escalated", failure: { class: "permanent", reason: "failed_review", detail: "reviewers disagree" } });
    const html = renderRunPage(runPage(run));
    const forms = html.match(/<form method="post" action="\/shopfloor\/runs\/octo\/app\/7\/actions">[\s\S]*?<\/form>/g)!;
    const actions = forms.map((f) => f.match(/name="action" value="([a-z]+)"/)![1]);
    expect(actions).toEqual(["retry", "cancel"]);
    for (const f of forms) expect(f).toContain('<input type="hidden" name="csrf" value="csrf-token-1">');
    const retry = forms[0]!;
    for (const name of ["note", "model", "budget"]) {
      const id = retry.match(new RegExp(`<(?:input|textarea)[^>]*id="([^"]+)"[^>]*name="${name}"`))![1];
      expect(retry).toContain(`<label for="${id}">`);
    }
    expect(html).toContain('data-events="/shopfloor/runs/octo/app/7/events"');
  });

  it("offers Escalate and Cancel on a run that is working, and nothing on a merged one", () => {
    const working = renderRunPage(runPage(builtRun({ phase: "building" })));
    expect([...working.matchAll(/name="action" value="([a-z]+)"/g)].map((m) => m[1])).toEqual(["escalate", "cancel"]);
    const done = renderRunPage(runPage(builtRun({ phase: "done" })));
    expect(done).not.toMatch(/name="action"/);
  });
});

describe("the floor", () => {
  it("shows runners and their jobs, the queue, spend per repository, 14 days by state, and escalation reasons", () => {
    const summaries = [
      summarizeRun(
        builtRun({ phase: "escalated", failure: { class: "permanent", reason: "budget_exhausted", detail: "spent" }, usage: [usage("generator", "openai/gpt-5", 2.5)], createdAt: "2026-11-20T10:00:00.000Z" }),
        { webUrl },
      ),
    ];
    const floor = floorView(summaries, { waiting: 3, oldestWaitingMs: 185_000, activeByRunner: { "runner-1": 1 }, jobsByRunner: { "runner-1": ["octo/app#7:build:impl:a1"] } }, now);
    const html = renderFloorPage({ viewer, floor, now, csrf });
    expect(html).toContain('data-events="/shopfloor/floor/events"');
    const live = renderFloorLive({ viewer, floor, now, csrf });
    expect(live).toContain("runner-1");
    expect(live).toContain("octo/app#7:build:impl:a1");
    expect(live).toMatch(/3 jobs? waiting/);
    expect(live).toMatch(/oldest waiting 3 min/);
    expect(live).toMatch(/octo\/app<\/th>\s*<td class="num">\$2\.50<\/td>\s*<td class="num">\$2\.50<\/td>/);
    expect(live.match(/<tr>\s*<th scope="row"><time datetime="2026-11-\d\d">/g)).toHaveLength(14);
    expect(live).toMatch(/permanent\/budget_exhausted[\s\S]*?<td class="num">1<\/td>/);
    expect(live.match(/<caption>/g)!.length).toBeGreaterThanOrEqual(4);
  });
});

describe("sign-in and messages", () => {
  it("without OAuth settings explains how to enable sign-in and shows nothing else", () => {
    const html = renderSignInPage({ configured: false });
    for (const text of ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "/shopfloor/auth/callback", "SHOPFLOOR_PUBLIC_URL", "SHOPFLOOR_SESSION_SECRET", "Client ID"]) {
      expect(html).toContain(text);
    }
    expect(html).not.toContain("<nav");
    expect(html).not.toContain("<table");
    expect(html).not.toContain("data-events");
    expect(html).not.toContain("/shopfloor/login");
  });

  it("when configured links to GitHub sign-in with where to return, and only to a local path", () => {
    const html = renderSignInPage({ configured: true, next: "/shopfloor?state=needs_you" });
    expect(html).toContain('href="/shopfloor/login?next=%2Fshopfloor%3Fstate%3Dneeds_you"');
    expect(html).toContain("Sign in with GitHub");
    expect(renderSignInPage({ configured: true, next: "//evil.example/x" })).toContain('href="/shopfloor/login"');
    expect(renderSignInPage({ configured: true, next: "https://evil.example/" })).not.toContain("evil");
  });

  it("renders an error page with its title and text, escaped", () => {
    const html = renderMessagePage("No such run", "There is no run <here>.", 404);
    expect(html).toContain("<h1>No such run</h1>");
    expect(html).toContain("There is no run &lt;here&gt;.");
    expect(html).toContain("404");
    expect(html.startsWith("<!doctype html>")).toBe(true);
  });
});

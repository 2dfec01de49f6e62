import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import examples from "@octokit/webhooks-examples";
import { afterEach, describe, expect, it } from "vitest";
import type { Run } from "../../src/domain/index.js";
import { parseDiff } from "../../src/workspace/diff.js";
import { runGit } from "../../src/workspace/git.js";
import { startApp, owner, repoName, installationId, type AppHarness } from "../kit/app.js";
import type { CiRun } from "../kit/github.js";
import type { ModelScript, RecordedRequest, Turn } from "../kit/model-server.js";
import { configYaml, goodFarewell, badFarewell, labeledPayload, projectFiles, plan as farewellPlan } from "./scenario.js";
import { skipCall } from "../kit/skip-text.js";

/**
 * The review and the gate, end to end through the real app: real git origin, real sandbox, the
 * scripted model server for planner, generator and two reviewers of different vendors, and
 * GitHub faked at the HTTP boundary. Reviewer r1 is `anthropic/claude-opus-4-1`, r2 `openai/gpt-4.1`.
 */

const runId = `${owner}/${repoName}#1`;
const branch = "shopfloor/1-add-farewell-name";
const full = `/repos/${owner}/${repoName}`;
const r1 = "claude-opus-4-1";
const r2 = "gpt-4.1";

let app: AppHarness | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Nothing the run decided is under way but its progress comment's next update, which waits its turn. */
const settled = (r: Run): boolean => r.pending.every((e) => e.kind === "upsertProgressComment" && e.notBefore !== undefined);

// ---------------------------------------------------------------------------------------------
// Scripted agents

type Plan = typeof farewellPlan;
type ScriptTurn = ModelScript[string][number];

const planner = (plan: Plan = farewellPlan): ScriptTurn[] => [{ toolCalls: [{ name: "finish", args: plan }], usage: { input: 1500, output: 300 } }];

/** The plan of scenario.ts with its one generate subtask owning other files too. */
function planOwning(files: string[], brief = farewellPlan.subtasks[0]!.brief): Plan {
  return { ...farewellPlan, subtasks: [{ ...farewellPlan.subtasks[0]!, files, brief }] };
}

const finishOk = (summary: string, confidence = 0.9): Turn => ({
  toolCalls: [
    {
      name: "finish",
      args: { status: "ok", confidence, summary, handoff: { completed: [summary], remaining: [], commands: [], issues: [], followedProcedure: true } },
    },
  ],
  usage: { input: 900, output: 60 },
});
const write = (path: string, content: string): Turn => ({ toolCalls: [{ name: "write_file", args: { path, content } }], usage: { input: 800, output: 60 } });
const run = (command: string): Turn => ({ toolCalls: [{ name: "run", args: { command } }], usage: { input: 800, output: 20 } });

interface FindingArgs {
  file: string;
  line: number;
  severity: "info" | "low" | "medium" | "high" | "critical";
  body: string;
  assertions?: string[];
}
const verdict = (v: "approve" | "request_changes", findings: FindingArgs[] = [], summary?: string): Turn => ({
  toolCalls: [
    {
      name: "finish",
      args: {
        verdict: v,
        summary: summary ?? (v === "approve" ? "The change does what the contract asks." : "The change needs work before it can go in."),
        confidence: 0.9,
        findings,
        assertionChecks: [],
      },
    },
  ],
  usage: { input: 800, output: 40 },
});
const approve = (): Turn => verdict("approve");

/** Every request the model server got for `model`, in order. */
const requestsOf = (h: AppHarness, model: string): RecordedRequest[] => h.models.requests.filter((r) => r.body.model === model);
const sent = (req: RecordedRequest | undefined): string => JSON.stringify(req?.body ?? {});

// ---------------------------------------------------------------------------------------------
// GitHub and git helpers

const originDir = (h: AppHarness): string => join(h.originRoot, owner, `${repoName}.git`);

/** Synchronous, so a scripted model turn (a plain function) can read the origin. */
function originHead(h: AppHarness): string {
  return execFileSync("git", ["rev-parse", `refs/heads/${branch}`], { cwd: originDir(h), encoding: "utf8" }).trim();
}

async function originDiff(h: AppHarness, base: string, head: string) {
  return parseDiff((await runGit(["diff", "--no-color", "--no-ext-diff", `${base}..${head}`], { cwd: originDir(h) })).stdout);
}

/** Requests that change something on GitHub (token exchanges and progress-comment edits aside). */
function writes(h: AppHarness): string[] {
  return h.github
    .lines()
    .filter((l) => !l.startsWith("GET ") && !l.includes("/access_tokens") && !/^PATCH .*\/issues\/comments\/\d+$/.test(l));
}

/** Every state the gate check was written with, in order. */
function gateWrites(h: AppHarness): { status: string; conclusion?: string; head_sha?: string }[] {
  return h.github.requests.filter((r) => /\/check-runs(\/\d+)?$/.test(r.path) && r.method !== "GET").map((r) => r.body);
}

function finalGate(h: AppHarness, r: Run) {
  const check = h.github.checkRuns.find((c) => c.head_sha === r.headSha);
  if (!check) throw new Error(`no gate check on ${r.headSha}; checks on ${h.github.checkRuns.map((c) => c.head_sha).join(", ")}`);
  return check as typeof check & { output: { title: string; summary: string; annotations?: any[] }; actions?: any[] };
}

const progressComment = (h: AppHarness): string => {
  const list = h.github.comments.get(1) ?? [];
  return list.find((c) => c.body.includes(`<!-- shopfloor:progress:${runId} -->`))?.body ?? "";
};
const handoffComment = (h: AppHarness): string => {
  const list = h.github.comments.get(1) ?? [];
  return list.find((c) => c.body.includes(`<!-- shopfloor:handoff:${runId} -->`))?.body ?? "";
};

/** Polls the run's notes until `ready` holds; for runs that wait (on CI) rather than finish. */
async function waitUntil(h: AppHarness, ready: (r: Run) => boolean, what: string, timeoutMs = 30_000): Promise<Run> {
  const started = Date.now();
  for (;;) {
    const r = await h.readRun(runId);
    if (r && ready(r)) return r;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}: phase ${r?.phase}, pending ${r?.pending.map((p) => p.key).join(", ")}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** The real `check_suite.completed` example, as another app's CI would send it for the run branch. */
function checkSuiteCompleted(headSha: string, conclusion: string, app: CiRun["app"]): any {
  const all = examples as unknown as { name: string; examples: any[] }[];
  const example = all.find((e) => e.name === "check_suite")!.examples.find((e) => e.action === "completed")!;
  const payload = structuredClone(example);
  payload.check_suite = { ...payload.check_suite, head_sha: headSha, head_branch: branch, status: "completed", conclusion, app: { ...payload.check_suite.app, ...app } };
  payload.installation = { id: installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" };
  return payload;
}

const ownersConfig = `${configYaml}owners: [octo-lead, hubot]\n`;

async function start(script: ModelScript, opts: { files?: Record<string, string>; config?: string } = {}): Promise<AppHarness> {
  app = await startApp({ script, files: opts.files ?? projectFiles, configYaml: opts.config ?? configYaml });
  app.github.permissions = { Codertocat: "write" };
  expect(await app.deliver("issues", labeledPayload())).toBe(200);
  return app;
}

// ---------------------------------------------------------------------------------------------

describe("two reviewers approve", () => {
  it("concludes the gate success, marks the PR ready and asks the owners to review", async () => {
    const h = await start(
      {
        "claude-haiku-4-5": planner(),
        "gpt-5-mini": [write("src/farewell.js", goodFarewell), finishOk("Implemented farewell")],
        [r1]: [approve],
        [r2]: [approve],
      },
      { config: ownersConfig },
    );
    const r = await h.waitForRun(runId);
    const gh = h.github;
    expect(gh.unexpected).toEqual([]);
    expect(r.phase).toBe("gated");
    const pr = gh.pulls[0]!;

    const check = finalGate(h, r);
    expect(check).toMatchObject({ name: "Shopfloor gate", head_sha: originHead(h), status: "completed", conclusion: "success" });
    expect(check.output.summary).toContain("| Reviewer quorum approves, no blocking finding | ✅ pass | anthropic/claude-opus-4-1: approve, openai/gpt-4.1: approve |");
    expect(gateWrites(h).map((w) => w.status)).toEqual(["in_progress", "completed"]);

    // Ready for review: out of draft, and exactly the configured owners asked (the author, shopfloor[bot], is not one).
    expect(gh.ready).toEqual([pr.number]);
    expect(pr.draft).toBe(false);
    const asked = gh.requests.filter((q) => q.method === "POST" && q.path === `${full}/pulls/${pr.number}/requested_reviewers`);
    expect(asked.map((q) => q.body)).toEqual([{ reviewers: ["octo-lead", "hubot"] }]);
    expect(gh.requestedReviewers.get(pr.number)).toEqual(["octo-lead", "hubot"]);
    expect(gh.assignees.size).toBe(0);
    expect(gh.labels.get(1) ?? []).not.toContain("agent:blocked");

    // The progress comment says it is ready, and who was asked.
    const progress = progressComment(h);
    expect(progress).toContain("**Gate:** `success`");
    expect(progress).toContain("The pull request is ready for review; asked @octo-lead, @hubot to review. A person merges.");

    // Exactly these writes, in this order: nothing a person would not want, no merge.
    expect(writes(h)).toEqual([
      `POST ${full}/issues/1/comments`,
      `POST ${full}/pulls`,
      `POST ${full}/check-runs`,
      `POST ${full}/pulls/${pr.number}/reviews`,
      `POST ${full}/pulls/${pr.number}/reviews`,
      `PATCH ${full}/check-runs/${check.id}`,
      "POST /graphql",
      `POST ${full}/pulls/${pr.number}/requested_reviewers`,
    ]);
    expect(gh.count("GET", `${full}/pulls/${pr.number}`)).toBe(2);
    expect(h.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0, [r1]: 0, [r2]: 0 });
  });
});

describe("a reviewer requests changes with a high finding", () => {
  it("runs one fix round with the finding in the generator's brief, then both approve and the gate succeeds", async () => {
    const finding = { file: "src/farewell.js", line: 2, severity: "high" as const, assertions: ["A1"], body: "farewell renders undefined for a missing name; fall back to friend" };
    const fixed = "export function farewell(name = \"friend\") {\n  return `Goodbye, ${name}!`;\n}\n";
    const h = await start({
      "claude-haiku-4-5": planner(),
      "gpt-5-mini": [write("src/farewell.js", goodFarewell), finishOk("Implemented farewell"), write("src/farewell.js", fixed), finishOk("Handled a missing name")],
      [r1]: [() => verdict("request_changes", [finding]), approve],
      [r2]: [approve, approve],
    });
    const r = await h.waitForRun(runId);
    const gh = h.github;
    expect(gh.unexpected).toEqual([]);
    expect(r.phase).toBe("gated");
    expect(r.fixRounds).toBe(1);
    expect(r.reviewRound).toBe(2);

    // The fix job's first request to the generator carried the finding in its brief.
    const generator = requestsOf(h, "gpt-5-mini");
    expect(generator).toHaveLength(4);
    const fixBrief = sent(generator[2]);
    expect(fixBrief).toContain('You are working on subtask \\"fix-r1\\"');
    expect(fixBrief).toContain("[high] src/farewell.js:2 — farewell renders undefined for a missing name; fall back to friend");
    expect(sent(generator[0])).not.toContain("farewell renders undefined");
    // The second round's reviewers are shown what the first round found (the review job's
    // `priorFindings`), so they can check each was addressed. Soft: the rest still runs.
    const secondRound = requestsOf(h, r1)[1];
    expect(sent(secondRound), "round-2 review brief lists round-1 findings").toContain("Findings of round 1 (check whether each was addressed)");
    expect(sent(secondRound)).toContain("src/farewell.js:2 [high] farewell renders undefined for a missing name");

    // The fix landed on the same branch and the same PR: one PR, two rounds of two reviews.
    expect(gh.count("POST", `${full}/pulls`)).toBe(1);
    const pr = gh.pulls[0]!;
    expect(gh.reviews).toHaveLength(4);
    expect(gh.reviews.every((v) => v.event === "COMMENT" && v.pull === pr.number)).toBe(true);
    const titles = gh.reviews.map((v) => v.body.split("\n").find((l) => l.startsWith("###")));
    expect(titles.slice(0, 2).sort()).toEqual(["### Review by anthropic/claude-opus-4-1: changes requested", "### Review by openai/gpt-4.1: approve"]);
    expect(titles.slice(2).sort()).toEqual(["### Review by anthropic/claude-opus-4-1: approve", "### Review by openai/gpt-4.1: approve"]);
    const changes = gh.reviews.find((v) => v.body.includes("changes requested"))!;
    expect(changes.comments).toEqual([{ path: "src/farewell.js", line: 2, side: "RIGHT", body: `**high**: ${finding.body}` }]);
    // Round-two reviews are on the new head; round-one reviews on the old one.
    expect(r.headSha).toBe(originHead(h));
    expect(new Set(gh.reviews.slice(2).map((v) => v.commit_id))).toEqual(new Set([r.headSha]));
    expect(gh.reviews.slice(0, 2).every((v) => v.commit_id !== r.headSha)).toBe(true);
    expect(await runGit(["show", `${r.headSha}:src/farewell.js`], { cwd: originDir(h) }).then((o) => o.stdout)).toBe(fixed);

    // The gate on the final head: success, and the PR ready.
    const check = finalGate(h, r);
    expect(check).toMatchObject({ status: "completed", conclusion: "success" });
    // The check on the first head does not hang in_progress: it is concluded there, pointing on.
    expect(gateWrites(h).filter((w) => w.status === "completed").map((w) => w.conclusion)).toEqual(["failure", "success"]);
    const superseded = h.github.checkRuns.find((c) => c.head_sha !== r.headSha)!;
    expect(superseded).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(superseded.output.title).toBe(`Superseded by ${r.headSha!.slice(0, 12)}`);
    expect(gh.ready).toEqual([pr.number]);
    expect(progressComment(h)).toContain("**Gate:** `success`");
    expect(h.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0, [r1]: 0, [r2]: 0 });
  });
});

describe("a critical finding that survives the fix round", () => {
  it("escalates: action_required with the finding annotated, agent:blocked, owners assigned, a handoff", async () => {
    const critical = { file: "src/farewell.js", line: 2, severity: "critical" as const, assertions: [], body: "the greeting is built with eval of the caller's input" };
    const h = await start(
      {
        "claude-haiku-4-5": planner(),
        "gpt-5-mini": [write("src/farewell.js", goodFarewell), finishOk("Implemented farewell"), write("src/farewell.js", `${goodFarewell}// reviewed\n`), finishOk("Addressed the review")],
        [r1]: [() => verdict("request_changes", [critical]), () => verdict("request_changes", [critical], "Still unsafe.")],
        [r2]: [approve, approve],
      },
      { config: ownersConfig },
    );
    const r = await h.waitForRun(runId);
    const gh = h.github;
    expect(gh.unexpected).toEqual([]);
    expect(r.phase).toBe("escalated");
    expect(r.fixRounds).toBe(1);
    expect(r.failure).toMatchObject({ class: "permanent", reason: "failed_review" });
    expect(r.failure!.detail).toContain(`critical at src/farewell.js:2: ${critical.body}`);

    const check = finalGate(h, r);
    expect(check).toMatchObject({ name: "Shopfloor gate", status: "completed", conclusion: "action_required" });
    expect(check.output.title).toBe("Escalated: failed_review");
    expect(check.output.summary).toContain("| Reviewer quorum approves, no blocking finding | ❌ fail | anthropic/claude-opus-4-1 requests changes; anthropic/claude-opus-4-1: critical at src/farewell.js:2 |");
    expect(check.output.summary).toContain("### Reviewers disagree");
    expect(check.output.annotations).toEqual([
      { path: "src/farewell.js", start_line: 2, end_line: 2, annotation_level: "failure", title: "critical (anthropic/claude-opus-4-1)", message: critical.body },
    ]);
    expect(check.actions?.map((a: { identifier: string }) => a.identifier)).toEqual(["retry"]);
    // Never success, on any head.
    expect(gateWrites(h).some((w) => w.conclusion === "success")).toBe(false);

    expect(gh.labels.get(1)).toContain("agent:blocked");
    expect(gh.assignees.get(1)).toEqual(["octo-lead", "hubot"]);
    const handoff = handoffComment(h);
    expect(handoff).toContain("### Shopfloor needs a person");
    expect(handoff).toContain(`critical at src/farewell.js:2: ${critical.body}`);
    expect(handoff).toContain("**Question:** The review still blocks after the fix round.");
    expect(gh.count("POST", `${full}/issues/1/comments`)).toBe(2);

    // One PR, never marked ready, no one asked to review it.
    expect(gh.count("POST", `${full}/pulls`)).toBe(1);
    expect(gh.ready).toEqual([]);
    expect(gh.count("POST", /\/requested_reviewers$/)).toBe(0);
    expect(gh.reviews).toHaveLength(4);
    expect(progressComment(h)).toContain("**Gate:** `action_required`");
  });
});

describe("test integrity", () => {
  // Realistic: a planner may well give the implementing subtask its test file ("implement
  // farewell and keep its test green"). The owned-files policy then allows any change to that
  // file, so only the gate's comparison with the base can tell a fixed test from a removed one.
  // `npm test` even passes: `node --test` with no test file left exits 0.
  const ownsTest = planOwning(["src/farewell.js", "test/farewell.test.js"], "Create src/farewell.js exporting farewell(name); keep test/farewell.test.js passing.");

  it("fails the gate on test integrity when the generator deletes the test file", async () => {
    const h = await start({
      "claude-haiku-4-5": planner(ownsTest),
      "gpt-5-mini": [write("src/farewell.js", badFarewell), run("rm test/farewell.test.js"), finishOk("Implemented farewell; the test was in the way")],
      [r1]: [approve],
      [r2]: [approve],
    });
    const r = await h.waitForRun(runId);
    expect(h.github.unexpected).toEqual([]);
    expect(r.phase).toBe("gated");
    // The deletion is really on the branch.
    await expect(runGit(["cat-file", "-e", `${r.headSha}:test/farewell.test.js`], { cwd: originDir(h) })).rejects.toThrow();
    expect(r.integrity).toMatchObject({ deletedTests: ["test/farewell.test.js"], testCountBase: 1, testCountHead: 0 });

    const check = finalGate(h, r);
    expect(check).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(check.output.title).toBe("Not done: Test integrity against the base");
    expect(check.output.summary).toContain("| Test integrity against the base | ❌ fail | deleted test file test/farewell.test.js; test count fell from 1 to 0 |");
    // Everything else passed: the integrity check alone caught it.
    expect(r.gate!.items.filter((i) => i.state !== "pass").map((i) => i.item)).toEqual(["Test integrity against the base"]);
    expect(h.github.ready).toEqual([]);
    expect(progressComment(h)).toContain("**Gate:** `failure`");
  });

  it("fails the gate on test integrity when the generator skips the test", async () => {
    const skipped = projectFiles["test/farewell.test.js"]!.replace('test("farewell says goodbye', `${skipCall("test", "skip")}"farewell says goodbye`);
    const h = await start({
      "claude-haiku-4-5": planner(ownsTest),
      "gpt-5-mini": [write("src/farewell.js", badFarewell), write("test/farewell.test.js", skipped), run("npm test"), finishOk("Implemented farewell; tests pass")],
      [r1]: [approve],
      [r2]: [approve],
    });
    const r = await h.waitForRun(runId);
    expect(h.github.unexpected).toEqual([]);
    expect(r.phase).toBe("gated");
    expect(r.scrutiny?.find((c) => c.cmd === "npm test")?.exitCode).toBe(0);

    const check = finalGate(h, r);
    expect(check).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(check.output.title).toBe("Not done: Test integrity against the base");
    expect(check.output.summary).toContain(`| Test integrity against the base | ❌ fail | new skip/only: test/farewell.test.js:5: ${skipCall("test", "skip")}"farewell says goodbye by name", () => {`);
    expect(r.gate!.items.filter((i) => i.state !== "pass").map((i) => i.item)).toEqual(["Test integrity against the base"]);
    expect(h.github.ready).toEqual([]);
  });
});

describe("protected paths", () => {
  it("fails the gate when the change touches .github/workflows/", async () => {
    // The plan owns the workflow file, so the build-time owned-files policy lets it through:
    // the gate's protected-paths item is what must stop it.
    const workflow = "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo skip tests\n";
    const h = await start({
      "claude-haiku-4-5": planner(planOwning(["src/farewell.js", ".github/workflows/ci.yml"])),
      "gpt-5-mini": [write("src/farewell.js", goodFarewell), write(".github/workflows/ci.yml", workflow), finishOk("Implemented farewell and a CI workflow")],
      [r1]: [approve],
      [r2]: [approve],
    });
    const r = await h.waitForRun(runId);
    expect(h.github.unexpected).toEqual([]);
    expect(r.phase).toBe("gated");
    expect(r.integrity?.protectedTouched).toEqual([".github/workflows/ci.yml"]);
    const check = finalGate(h, r);
    expect(check).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(check.output.title).toBe("Not done: Protected paths untouched");
    expect(check.output.summary).toContain("| Protected paths untouched | ❌ fail | changed .github/workflows/ci.yml (protected: .github/workflows/**) |");
    expect(r.gate!.items.filter((i) => i.state !== "pass").map((i) => i.item)).toEqual(["Protected paths untouched"]);
    expect(h.github.ready).toEqual([]);
  });
});

describe("the repository's own CI", () => {
  it("waits while CI runs, follows the CI path when it goes red, and succeeds once it is green", async () => {
    const ciApp = { id: 5678, slug: "ci-app", name: "CI App" };
    const failingOutput = "not ok 1 - farewell handles an empty name\n  expected: 'Goodbye, friend!'\n  actual: 'Goodbye, !'";
    const fixed = "export function farewell(name) {\n  return `Goodbye, ${name || \"friend\"}!`;\n}\n";
    /** CI starts on every push: by the time a reviewer reads the head, CI runs on it. */
    const ciStarts = () => {
      const sha = originHead(app!);
      if (!app!.github.ci.some((c) => c.head_sha === sha)) app!.github.ci.push({ head_sha: sha, name: "tests", app: ciApp, status: "in_progress", conclusion: null });
    };
    const h = await start({
      "claude-haiku-4-5": planner(),
      "gpt-5-mini": [write("src/farewell.js", goodFarewell), finishOk("Implemented farewell"), write("src/farewell.js", fixed), finishOk("Handled an empty name")],
      [r1]: [() => (ciStarts(), approve()), () => (ciStarts(), approve())],
      [r2]: [approve, approve],
    });
    const gh = h.github;

    // 1. Reviews are in, CI still runs: the gate waits, in progress.
    const waiting = await waitUntil(h, (r) => r.phase === "awaiting_ci" && settled(r), "the run to wait on CI");
    const firstHead = waiting.headSha!;
    expect(firstHead).toBe(originHead(h));
    expect(waiting.ci).toEqual([{ name: "tests", app: "ci-app", status: "in_progress", conclusion: null, url: "https://ci.example/tests", details: "" }]);
    expect(waiting.gate?.conclusion).toBeUndefined();
    expect(gh.checkRuns).toHaveLength(1);
    expect(gh.checkRuns[0]).toMatchObject({ head_sha: firstHead, status: "in_progress" });
    expect(gateWrites(h).some((w) => w.status === "completed")).toBe(false);

    // Our own app's suite completing is no news about CI (checked in the journal at the end).
    expect(await h.deliver("check_suite", checkSuiteCompleted(firstHead, "success", { id: 1234, slug: "shopfloor", name: "Shopfloor" }))).toBe(200);

    // 2. CI goes red: the webhook makes the run read CI again and start a CI fix with the failing output.
    const ci = gh.ci.find((c) => c.head_sha === firstHead)!;
    Object.assign(ci, { status: "completed", conclusion: "failure", output: { title: "1 test failed", summary: failingOutput } });
    expect(await h.deliver("check_suite", checkSuiteCompleted(firstHead, "failure", ciApp))).toBe(200);

    // 3. The fix is pushed, reviewed again; CI runs on the new head and the gate waits again.
    const again = await waitUntil(h, (r) => r.phase === "awaiting_ci" && r.headSha !== firstHead && settled(r), "the run to wait on CI of the fix");
    const newHead = originHead(h);
    expect(again.headSha).toBe(newHead);
    expect(again.ciFixes).toBe(1);
    expect(again.subtasks["ci-fix-1"]?.status).toBe("ok");
    expect(again.plan!.subtasks.find((s) => s.id === "ci-fix-1")!.brief).toContain("tests (ci-app): failure");

    const generator = requestsOf(h, "gpt-5-mini");
    const ciFixBrief = sent(generator[2]);
    expect(ciFixBrief).toContain('You are working on subtask \\"ci-fix-1\\"');
    expect(ciFixBrief).toContain("The repository's CI failed on this change.");
    expect(ciFixBrief).toContain("tests (ci-app): failure");
    // The failing check's own output reaches the brief: without it the fixer works blind.
    // Soft, so the rest of the CI path is still checked when this fails.
    expect(ciFixBrief, "CI fix brief carries the failing check's output").toContain("not ok 1 - farewell handles an empty name");

    // 4. CI goes green on the new head: the gate concludes success.
    const newCi = gh.ci.find((c) => c.head_sha === newHead)!;
    Object.assign(newCi, { status: "completed", conclusion: "success" });
    expect(await h.deliver("check_suite", checkSuiteCompleted(newHead, "success", ciApp))).toBe(200);
    const r = await h.waitForRun(runId);
    expect(gh.unexpected).toEqual([]);
    expect(r.phase).toBe("gated");
    expect(r.headSha).toBe(newHead);
    const check = finalGate(h, r);
    expect(check).toMatchObject({ status: "completed", conclusion: "success" });
    expect(check.output.summary).toContain("| Repository CI green on the head commit | ✅ pass | tests: success |");
    // The check on the first head does not hang in_progress: it is concluded there, pointing on.
    expect(gateWrites(h).filter((w) => w.status === "completed").map((w) => w.conclusion)).toEqual(["failure", "success"]);
    const superseded = h.github.checkRuns.find((c) => c.head_sha !== r.headSha)!;
    expect(superseded).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(superseded.output.title).toBe(`Superseded by ${r.headSha!.slice(0, 12)}`);
    expect(gh.count("POST", `${full}/pulls`)).toBe(1);
    expect(gh.reviews).toHaveLength(4);
    expect(gh.ready).toEqual([gh.pulls[0]!.number]);
    // CI was read once per review round and once per webhook of the other app; ours was ignored.
    const journal = (await readFile(join(h.stateDir, "runs", owner, repoName, "1", "journal.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(journal.filter((j) => j.event.type === "ci.completed").map((j) => j.event.headSha)).toEqual([firstHead, newHead]);
    expect(gh.count("GET", `${full}/commits/${firstHead}/check-suites`)).toBe(2);
    expect(gh.count("GET", `${full}/commits/${newHead}/check-suites`)).toBe(2);
  });
});

describe("inline review comments", () => {
  it("puts a finding inline only when its line is in the real diff, and the other in the review body", async () => {
    // A longer file, so that a line far from the change is outside every hunk.
    const before = [
      "export function farewell(name) {",
      "  return `Bye ${name}`;",
      "}",
      "",
      "export function shout(text) {",
      "  return text.toUpperCase();",
      "}",
      "",
      "export function whisper(text) {",
      "  return text.toLowerCase();",
      "}",
      "",
      "export function repeat(text, n) {",
      "  return Array.from({ length: n }, () => text).join(' ');",
      "}",
      "",
      "export function initials(name) {",
      "  return name.split(' ').map((w) => w[0]).join('');",
      "}",
      "",
    ].join("\n");
    const after = before.replace("  return `Bye ${name}`;", "  return `Goodbye, ${name}!`;");
    const onChanged = { file: "src/farewell.js", line: 2, severity: "low" as const, body: "Consider trimming the name." };
    const offDiff = { file: "src/farewell.js", line: 18, severity: "info" as const, body: "initials() breaks on double spaces." };
    const h = await start(
      {
        "claude-haiku-4-5": planner(),
        "gpt-5-mini": [write("src/farewell.js", after), finishOk("Fixed farewell")],
        [r1]: [() => verdict("approve", [onChanged, offDiff])],
        [r2]: [approve],
      },
      { files: { ...projectFiles, "src/farewell.js": before } },
    );
    const r = await h.waitForRun(runId);
    expect(h.github.unexpected).toEqual([]);
    expect(r.gate?.conclusion).toBe("success");

    const diff = await originDiff(h, h.originSha, originHead(h));
    const rightLines = new Set(diff.flatMap((f) => f.rightLines.map((l) => `${f.path}:${l}`)));
    // The premise: line 2 is in a hunk, line 18 is not.
    expect(rightLines.has("src/farewell.js:2")).toBe(true);
    expect(rightLines.has("src/farewell.js:18")).toBe(false);

    const posted = h.github.reviews.find((v) => v.body.includes("Review by anthropic/claude-opus-4-1"))!;
    expect(posted.comments).toHaveLength(1);
    for (const c of h.github.reviews.flatMap((v) => v.comments)) {
      expect(c.side).toBe("RIGHT");
      expect(rightLines.has(`${c.path}:${c.line}`)).toBe(true);
    }
    expect(posted.comments[0]).toMatchObject({ path: "src/farewell.js", line: 2, body: "**low**: Consider trimming the name." });
    expect(posted.body).toContain("#### Findings not shown inline");
    expect(posted.body).toContain("- `src/farewell.js:18` **info**: initials() breaks on double spaces.");
    expect(posted.body).not.toContain("Consider trimming the name.");
    expect(posted.commit_id).toBe(originHead(h));
  });
});

describe("a reviewer whose output cannot be trusted", () => {
  const bad = (args: unknown): Turn => ({ toolCalls: [{ name: "finish", args }], usage: { input: 600, output: 30 } });
  const cases: { name: string; turns: Turn[]; detail: RegExp }[] = [
    {
      name: "finish arguments that are not JSON, three times",
      turns: [1, 2, 3].map(() => bad('{"verdict": "approve", "summary": ')),
      detail: /finish arguments invalid: the arguments were not valid JSON/,
    },
    {
      name: "finish arguments of the wrong schema, three times",
      turns: [1, 2, 3].map(() => bad({ verdict: "lgtm", summary: "fine", confidence: 7 })),
      detail: /finish arguments invalid: .*verdict/s,
    },
    {
      name: "a finding on a file the change does not touch",
      turns: [verdict("approve", [{ file: "src/greet.js", line: 1, severity: "low", body: "greet could be shorter" }])],
      detail: /finding on src\/greet\.js, which the change does not touch/,
    },
    {
      name: "no output at all, three times",
      turns: [1, 2, 3].map(() => ({ text: "", usage: { input: 600, output: 1 } })),
      detail: /the model kept answering without calling finish/,
    },
  ];
  for (const c of cases) {
    it(`fails that reviewer typed and escalates, never success: ${c.name}`, async () => {
      const h = await start(
        {
          "claude-haiku-4-5": planner(),
          "gpt-5-mini": [write("src/farewell.js", goodFarewell), finishOk("Implemented farewell")],
          [r1]: [approve],
          [r2]: c.turns,
        },
        { config: ownersConfig },
      );
      const r = await h.waitForRun(runId);
      const gh = h.github;
      expect(gh.unexpected).toEqual([]);
      expect(r.phase).toBe("escalated");
      expect(r.failure).toMatchObject({ class: "permanent", reason: "invalid_output" });
      expect(r.failure!.detail).toMatch(c.detail);
      expect(r.attempts.map((a) => [a.task, a.failure.reason])).toEqual([["review:r2", "invalid_output"]]);
      // A permanent failure is not retried: exactly the scripted turns were used.
      expect(requestsOf(h, r2)).toHaveLength(c.turns.length);
      // The broken reviewer's output never became a review; the gate never said success.
      expect(r.reviews.some((v) => v.reviewer === "r2")).toBe(false);
      expect(gh.reviews.some((v) => v.body.includes("openai/gpt-4.1"))).toBe(false);
      expect(gateWrites(h).some((w) => w.conclusion === "success")).toBe(false);
      const check = finalGate(h, r);
      expect(check).toMatchObject({ status: "completed", conclusion: "action_required" });
      expect(check.output.title).toBe("Escalated: invalid_output");
      expect(gh.labels.get(1)).toContain("agent:blocked");
      expect(handoffComment(h)).toContain("review:r2");
      expect(gh.ready).toEqual([]);
      expect(gh.count("POST", /\/requested_reviewers$/)).toBe(0);
    });
  }
});

import { sendDelivery } from "../../src/cli/replay.js";
import { afterEach, describe, expect, it } from "vitest";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { run, ProbotOctokit } from "probot";
import { createShopfloor, type Shopfloor } from "../../src/index.js";
import { RunSchema, terminalPhases, type Run } from "../../src/domain/index.js";
import type { JournalEntry } from "../../src/store/run-store.js";
import { runGit } from "../../src/workspace/git.js";
import { startApp, owner, repoName, defaultBranch, type AppHarness } from "../kit/app.js";
import { FakeGitHub } from "../kit/github.js";
import { makeOriginRepo, startGitServer, type GitServer } from "../kit/git-server.js";
import { startModelServer, type ModelScript, type ModelServer, type RecordedRequest, type Turn } from "../kit/model-server.js";
import { anthropicError } from "../kit/model-server/anthropic.js";
import { configYaml, goodFarewell, labeledPayload, plan, projectFiles, reviewerScript, script } from "./scenario.js";
import { freePort } from "../kit/port.js";

/**
 * Runs that stop and hand a person the package: bad planner output, a blocked worker, typed
 * provider failures through the real SDKs, the budget, and a restart while a job was running.
 * Each case runs the real app (Probot, engine, runner pool) against the kit.
 */

const runId = `${owner}/${repoName}#1`;
const full = `/repos/${owner}/${repoName}`;
const handoffMarker = `<!-- shopfloor:handoff:${runId} -->`;
const progressMarker = `<!-- shopfloor:progress:${runId} -->`;

const good = script(goodFarewell);
const plannerTurns = good["claude-haiku-4-5"]!;
const generatorTurns = good["gpt-5-mini"]!;

let app: AppHarness | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function journalOf(stateDir: string, issue = 1): Promise<JournalEntry[]> {
  const text = await readFile(join(stateDir, "runs", owner, repoName, String(issue), "journal.jsonl"), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JournalEntry);
}

/** What Shopfloor wrote to GitHub, in order: reads and installation tokens left out. */
function writesOf(gh: FakeGitHub): string[] {
  return gh.lines().filter((l) => !l.startsWith("GET ") && !l.includes("/access_tokens"));
}

function handoffsOf(gh: FakeGitHub, issue = 1): string[] {
  return (gh.comments.get(issue) ?? []).filter((c) => c.body.includes("<!-- shopfloor:handoff:")).map((c) => c.body);
}

function failedJobs(journal: JournalEntry[]): { jobId: string; failure: any; phase: string | null }[] {
  return journal
    .filter((e) => e.event.type === "job.failed")
    .map((e) => ({ jobId: (e.event as any).jobId, failure: (e.event as any).failure, phase: e.phase }));
}

const finishWith = (args: unknown): Turn => ({ toolCalls: [{ name: "finish", args }], usage: { input: 1000, output: 50 } });
const timed = (times: number[], turn: Turn) => () => {
  times.push(Date.now());
  return turn;
};

/** The writes of a run that escalated while planning: no commit to check, so no gate check. */
const planningEscalationWrites = (commentId: number) => [
  `POST ${full}/issues/1/comments`,
  `POST ${full}/issues/1/labels`,
  `POST ${full}/issues/1/comments`,
  `PATCH ${full}/issues/comments/${commentId}`,
];

describe("bad planner output is rejected with a reason, and the engine carries on", () => {
  const cases: { name: string; args: unknown; reason: string[]; planner?: "openai" }[] = [
    // The planner on the Anthropic route (the scenario's), then the same on the OpenAI route.
    { name: "arguments that are not valid JSON", args: "{not json", reason: ["not valid JSON", "{not json"] },
    { name: "arguments that are not valid JSON (OpenAI route)", args: "{not json", reason: ["not valid JSON", "{not json"], planner: "openai" },
    {
      name: "a plan without a validation contract (schema violation)",
      args: { ...plan, contract: undefined },
      reason: ["Invalid input: expected object, received undefined", "→ at contract"],
    },
    {
      name: "a plan that owns files outside the repository",
      args: { ...plan, subtasks: [{ ...plan.subtasks[0]!, files: ["../../etc/passwd", "/etc/passwd"] }] },
      reason: ["must be a path inside the repository (relative, without '..')", "→ at subtasks[0].files[0]", "→ at subtasks[0].files[1]"],
    },
  ];
  for (const c of cases) {
    it(`escalates with invalid_output after three finishes with ${c.name}`, async () => {
      const bad = Array.from({ length: 3 }, () => finishWith(c.args));
      // On the OpenAI route planner and generator share one model's queue: the turns come in run order.
      const plannerModel = c.planner === "openai" ? "gpt-5-mini" : "claude-haiku-4-5";
      app = await startApp({
        script:
          c.planner === "openai"
            ? { ...reviewerScript(1), "gpt-5-mini": [...bad, ...plannerTurns, ...generatorTurns] }
            : { ...reviewerScript(1), "claude-haiku-4-5": [...bad, ...plannerTurns], "gpt-5-mini": [...generatorTurns] },
        files: projectFiles,
        configYaml: c.planner === "openai" ? configYaml.replace("planner: anthropic/claude-haiku-4-5", "planner: openai/gpt-5-mini") : configYaml,
      });
      app.github.permissions = { Codertocat: "write" };
      expect(await app.deliver("issues", labeledPayload())).toBe(200);
      const run = await app.waitForRun(runId);
      const gh = app.github;

      expect(run.phase).toBe("escalated");
      expect(run.failure).toMatchObject({ class: "permanent", reason: "invalid_output" });
      for (const r of c.reason) expect(run.failure!.detail).toContain(r);

      // The model saw each rejection as a tool error and was asked to correct it, twice.
      const planner = app.models.requests.filter((r) => r.body.model === plannerModel);
      expect(planner).toHaveLength(3);
      for (const req of planner.slice(1)) {
        const last = JSON.stringify(req.body.messages.at(-1));
        expect(last).toContain(c.planner === "openai" ? '"role":"tool"' : '"type":"tool_result"');
        expect(last).toContain("arguments are invalid");
        expect(last).toContain(JSON.stringify(c.reason[0]!).slice(1, -1));
      }

      // The journal records the rejected job with the reason, and the escalation it caused.
      const journal = await journalOf(app.stateDir);
      const failed = failedJobs(journal);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ jobId: `${runId}:plan:a1`, failure: { class: "permanent", reason: "invalid_output" }, phase: "escalated" });
      for (const r of c.reason) expect(failed[0]!.failure.detail).toContain(r);
      expect(journal.at(-1)!.phase).toBe("escalated");

      // A person gets the label and one handoff naming the reason; no PR, no branch, no gate (no commit yet).
      expect(gh.unexpected).toEqual([]);
      expect(gh.labels.get(1)).toEqual(["agent:blocked"]);
      const handoffs = handoffsOf(gh);
      expect(handoffs).toHaveLength(1);
      expect(handoffs[0]).toContain(handoffMarker);
      expect(handoffs[0]).toContain("**Why it stopped:** `permanent` / `invalid_output` — finish arguments invalid:");
      expect(handoffs[0]).toContain(c.reason[0]);
      expect(handoffs[0]).toContain("- no plan was accepted");
      expect(handoffs[0]).toContain("job.failed failure=invalid_output: finish arguments invalid");
      const progress = gh.comments.get(1)!.find((x) => x.body.includes(progressMarker))!;
      expect(writesOf(gh)).toEqual(planningEscalationWrites(progress.id));
      expect(progress.body).toContain("Stopped and handed to a person");
      expect(gh.count("POST", `${full}/pulls`)).toBe(0);
      expect(gh.checkRuns).toEqual([]);
      expect(app.models.requests).toHaveLength(3);

      // The engine did not crash: the app answers, and another issue runs to the end on it.
      const health = await fetch(`${app.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ ok: true, active: 0 });
      const second = labeledPayload();
      second.issue = { ...second.issue, number: 2 };
      expect(await app.deliver("issues", second)).toBe(200);
      const next = await app.waitForRun(`${owner}/${repoName}#2`);
      expect(next.phase).toBe("gated");
      expect(next.gate?.conclusion).toBe("success");
      expect(gh.pulls.map((p) => ({ head: p.head, body: p.body.includes("Closes #2") }))).toEqual([{ head: "shopfloor/2-add-farewell-name", body: true }]);
      expect(gh.unexpected).toEqual([]);
      expect(app.models.remaining()).toMatchObject({ "gpt-5-mini": 0, "claude-opus-4-1": 0, "gpt-4.1": 0 });
      if (c.planner !== "openai") expect(app.models.remaining()["claude-haiku-4-5"]).toBe(0);
      // The first run stayed where it stopped.
      expect((await app.readRun(runId))?.phase).toBe("escalated");
    });
  }
});

describe("an escalation hands a person the whole package", () => {
  it("labels, assigns the owners, posts one handoff and completes the gate action_required", async () => {
    const explanation = "The issue says `Goodbye, <name>!` but AGENTS.md asks for localised greetings; I cannot tell which wins.";
    app = await startApp({
      script: {
        "claude-haiku-4-5": [...plannerTurns],
        "gpt-5-mini": [
          { toolCalls: [{ name: "write_file", args: { path: "src/farewell.js", content: goodFarewell } }], usage: { input: 900, output: 60 } },
          finishWith({
            status: "blocked",
            confidence: 0.4,
            summary: explanation,
            handoff: {
              completed: ["drafted src/farewell.js"],
              remaining: ["decide whether farewell is localised"],
              commands: [],
              issues: ["the issue and AGENTS.md disagree about localisation"],
              followedProcedure: true,
            },
          }),
        ],
      },
      files: projectFiles,
      configYaml: `${configYaml}owners: [alice, bob]\n`,
    });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    const gh = app.github;
    expect(gh.unexpected).toEqual([]);

    expect(run.phase).toBe("escalated");
    expect(run.failure).toMatchObject({ class: "permanent", reason: "blocked" });
    expect(run.failure!.detail).toContain("subtask impl reported blocked");

    // The label, once; both owners assigned.
    expect(gh.labels.get(1)).toEqual(["agent:blocked"]);
    expect(gh.requests.filter((r) => r.path === `${full}/issues/1/labels`).map((r) => r.body)).toEqual([{ labels: ["agent:blocked"] }]);
    expect(gh.assignees.get(1)).toEqual(["alice", "bob"]);
    expect(gh.requests.filter((r) => r.path === `${full}/issues/1/assignees`).map((r) => r.body)).toEqual([{ assignees: ["alice", "bob"] }]);

    // One handoff comment with the question, what was attempted, the spend and the decision trace.
    const handoffs = handoffsOf(gh);
    expect(handoffs).toHaveLength(1);
    const handoff = handoffs[0]!;
    expect(handoff.startsWith(handoffMarker)).toBe(true);
    expect(handoff).toContain(
      '**Question:** The generate worker on "Implement farewell(name)" could not finish. What should it do differently, or should a person take over?',
    );
    expect(handoff).toContain("**Why it stopped:** `permanent` / `blocked` — subtask impl reported blocked:");
    expect(handoff).toContain("#### What was attempted");
    expect(handoff).toContain("- `impl` (generate) Implement farewell(name): blocked, 1 attempt(s)");
    expect(handoff).toContain(`  - reported: ${explanation.replace(/\s+/g, " ")} (confidence 0.40)`);
    expect(handoff).toMatch(/ {2}- change: .*1 file changed.* at `[0-9a-f]{12}`/);
    expect(handoff).toContain("  - issue found: the issue and AGENTS.md disagree about localisation");
    expect(handoff).toContain("  - remaining: decide whether farewell is localised");
    expect(handoff).toMatch(/\*\*Spend:\*\* \$0\.\d{4}, \d+ tokens/);
    expect(handoff).toContain("| planner | `anthropic/claude-haiku-4-5` |");
    expect(handoff).toContain("| generate | `openai/gpt-5-mini` |");
    expect(handoff).toContain("<details><summary>Decision trace (last entries)</summary>");
    expect(handoff).toMatch(/#\d+ \S+ job\.succeeded phase=escalated → addLabels, assignOwners, postHandoff, publishGate, upsertProgressComment/);
    expect(handoff).toMatch(/#1 \S+ run\.requested phase=configuring → loadConfig/);
    expect(handoff).toContain("`/retry [note]`");

    // The gate: completed action_required on the change so far, the commit the blocked worker pushed.
    const pushed = (await runGit(["rev-parse", "shopfloor/1-add-farewell-name"], { cwd: join(app.originRoot, owner, `${repoName}.git`) })).stdout.trim();
    expect(pushed).not.toBe(app.originSha);
    expect(run.headSha).toBe(pushed);
    expect(handoff).toContain(`**Change so far:** branch \`shopfloor/1-add-farewell-name\``);
    expect(gh.checkRuns).toHaveLength(1);
    expect(gh.checkRuns[0]).toMatchObject({
      name: "Shopfloor gate",
      head_sha: pushed,
      external_id: runId,
      status: "completed",
      conclusion: "action_required",
    });
    expect(gh.checkRuns[0]!.output.title).toBe("Escalated: blocked");
    expect(run.gate).toMatchObject({ conclusion: "action_required", checkRunId: gh.checkRuns[0]!.id });

    // The writes: the handoff is posted once, while the progress comment is updated in place.
    const progress = gh.comments.get(1)!.find((c) => c.body.includes(progressMarker))!;
    expect(gh.comments.get(1)).toHaveLength(2);
    expect(gh.count("POST", `${full}/issues/1/comments`)).toBe(2);
    const writes = writesOf(gh);
    expect(writes.filter((l) => !l.startsWith(`PATCH ${full}/issues/comments/`))).toEqual([
      `POST ${full}/issues/1/comments`,
      `POST ${full}/issues/1/labels`,
      `POST ${full}/issues/1/assignees`,
      `POST ${full}/issues/1/comments`,
      `POST ${full}/check-runs`,
    ]);
    const patched = gh.requests.filter((r) => r.method === "PATCH" && r.path.startsWith(`${full}/issues/comments/`));
    expect(patched.length).toBeGreaterThanOrEqual(1);
    expect(patched.length).toBeLessThanOrEqual(3);
    expect(patched.every((r) => r.path === `${full}/issues/comments/${progress.id}` && !String(r.body.body).includes("shopfloor:handoff"))).toBe(true);
    expect(writes.at(-1)).toBe(`PATCH ${full}/issues/comments/${progress.id}`);
    expect(progress.body).toContain("Stopped and handed to a person");
    expect(progress.body).toContain("**Gate:** `action_required`");
    expect(progress.body).toContain("**Question for a person:**");
    expect(gh.count("POST", `${full}/pulls`)).toBe(0);
    expect(app.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0 });
  });
});

describe("typed failures through the real SDKs", () => {
  it("retries a 429 after the server's retry-after, then finishes gated", async () => {
    const times: number[] = [];
    app = await startApp({
      script: {
        ...reviewerScript(1),
        "claude-haiku-4-5": [
          timed(times, { error: { status: 429, headers: { "retry-after": "1" }, body: anthropicError(429, "slow down") } }),
          timed(times, plannerTurns[0] as Turn),
          ...plannerTurns.slice(1),
        ],
        "gpt-5-mini": [...generatorTurns],
      },
      files: projectFiles,
      configYaml,
    });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    expect(app.github.unexpected).toEqual([]);
    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");

    // The SDK made one call, Shopfloor waited what the server asked (not its own 50 ms backoff), then called again.
    expect(times).toHaveLength(2);
    const gap = times[1]! - times[0]!;
    expect(gap).toBeGreaterThanOrEqual(990);
    expect(gap).toBeLessThan(3000);
    expect(run.attempts).toEqual([expect.objectContaining({ jobId: `${runId}:plan:a1`, task: "plan", failure: expect.objectContaining({ class: "transient", reason: "rate_limit", retryAfterMs: 1000 }) })]);
    const failed = failedJobs(await journalOf(app.stateDir));
    expect(failed).toEqual([{ jobId: `${runId}:plan:a1`, failure: expect.objectContaining({ reason: "rate_limit", retryAfterMs: 1000 }), phase: "planning" }]);
    // The retried planner was told about the rate limit, and not to change its approach.
    const second = app.models.requests.filter((r) => r.body.model === "claude-haiku-4-5")[1]!;
    expect(JSON.stringify(second.body.messages[0])).toContain("Attempt 1 failed: transient / rate_limit");
    expect(app.github.labels.get(1)).toBeUndefined();
    expect(app.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0, "claude-opus-4-1": 0, "gpt-4.1": 0 });
  });

  it("escalates with server_error after three 5xx attempts, listing the attempts", async () => {
    const times: number[] = [];
    const serverError = (n: number) => timed(times, { error: { status: 500, body: anthropicError(500, `upstream overloaded (${n})`) } });
    app = await startApp({
      script: { "claude-haiku-4-5": [serverError(1), serverError(2), serverError(3), ...plannerTurns] },
      files: projectFiles,
      configYaml,
      env: { SHOPFLOOR_MAX_ATTEMPTS: "3" },
    });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    const gh = app.github;
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("escalated");
    expect(run.failure).toMatchObject({ class: "transient", reason: "server_error" });
    expect(run.failure!.detail).toContain("(3 of 3 attempts used)");
    expect(times).toHaveLength(3);
    expect(app.models.remaining()["claude-haiku-4-5"]).toBe(plannerTurns.length);

    const failed = failedJobs(await journalOf(app.stateDir));
    expect(failed.map((f) => [f.jobId, f.failure.reason, f.phase])).toEqual([
      [`${runId}:plan:a1`, "server_error", "planning"],
      [`${runId}:plan:a2`, "server_error", "planning"],
      [`${runId}:plan:a3`, "server_error", "escalated"],
    ]);
    const handoffs = handoffsOf(gh);
    expect(handoffs).toHaveLength(1);
    expect(handoffs[0]).toContain("**Why it stopped:** `transient` / `server_error`");
    expect(handoffs[0]).toContain("plan kept failing for reasons outside the work itself (server_error)");
    expect(handoffs[0]).toContain("| when | task | failure |");
    for (const n of [1, 2, 3]) expect(handoffs[0]).toMatch(new RegExp(`\\| plan \\| transient / server_error: 500 .*upstream overloaded \\(${n}\\)`));
    expect(gh.labels.get(1)).toEqual(["agent:blocked"]);
    expect(gh.count("POST", `${full}/pulls`)).toBe(0);
  });

  it("stops after the same 5xx twice in a row, before the attempts run out", async () => {
    const same = () => ({ error: { status: 500, body: anthropicError(500, "upstream overloaded") } });
    app = await startApp({ script: { "claude-haiku-4-5": [same(), same(), same()] }, files: projectFiles, configYaml, env: { SHOPFLOOR_MAX_ATTEMPTS: "3" } });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    expect(app.github.unexpected).toEqual([]);
    expect(run.phase).toBe("escalated");
    expect(run.failure).toMatchObject({ class: "transient", reason: "server_error" });
    expect(run.failure!.detail).toContain("the same failure twice in a row (server_error)");
    expect(run.attempts).toHaveLength(2);
    expect(app.models.remaining()["claude-haiku-4-5"]).toBe(1);
  });

  it("escalates a 400 at once, without a retry", async () => {
    app = await startApp({
      script: { "claude-haiku-4-5": [{ error: { status: 400, body: anthropicError(400, "prompt is too long") } }, ...plannerTurns] },
      files: projectFiles,
      configYaml,
    });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    const gh = app.github;
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("escalated");
    expect(run.failure).toMatchObject({ class: "permanent", reason: "invalid_output" });
    expect(run.failure!.detail).toContain("HTTP 400");
    expect(run.failure!.detail).toContain("prompt is too long");
    expect(run.failure!.detail).toContain("permanent failure (invalid_output)");
    expect(app.models.requests.filter((r) => r.body.model === "claude-haiku-4-5")).toHaveLength(1);
    expect(app.models.remaining()["claude-haiku-4-5"]).toBe(plannerTurns.length);
    const failed = failedJobs(await journalOf(app.stateDir));
    expect(failed.map((f) => [f.jobId, f.failure.reason, f.phase])).toEqual([[`${runId}:plan:a1`, "invalid_output", "escalated"]]);
    expect(handoffsOf(gh)).toHaveLength(1);
    expect(handoffsOf(gh)[0]).toContain("plan failed and retrying would not help (invalid_output)");
    expect(gh.labels.get(1)).toEqual(["agent:blocked"]);
  });
});

describe("budgets", () => {
  it("stops a job that spends past its cap, escalates budget_exhausted with the breakdown, and starts nothing more", async () => {
    app = await startApp({
      script: {
        "claude-haiku-4-5": [{ toolCalls: [{ name: "list_files", args: {} }], usage: { input: 1_000_000, output: 100 } }, ...plannerTurns.slice(1)],
        "gpt-5-mini": [...generatorTurns],
      },
      files: projectFiles,
      configYaml: `${configYaml}budget:\n  usd: 0.05\n  jobUsd: 0.02\n`,
    });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    const gh = app.github;
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("escalated");
    expect(run.failure).toMatchObject({ class: "permanent", reason: "budget_exhausted" });
    expect(run.failure!.detail).toContain("past its cap of $0.0200");
    // The job was dispatched with a cap no larger than the job budget.
    const journal = await journalOf(app.stateDir);
    expect(failedJobs(journal).map((f) => [f.jobId, f.failure.reason, f.phase])).toEqual([[`${runId}:plan:a1`, "budget_exhausted", "escalated"]]);

    const handoff = handoffsOf(gh);
    expect(handoff).toHaveLength(1);
    expect(handoff[0]).toContain("**Why it stopped:** `permanent` / `budget_exhausted`");
    expect(handoff[0]).toContain("**Spend:** $1.0005, 1000100 tokens");
    expect(handoff[0]).toContain("| planner | `anthropic/claude-haiku-4-5` | 1000100 | $1.0005 |");
    expect(gh.labels.get(1)).toEqual(["agent:blocked"]);

    // Nothing starts after the pause: the model server hears nothing more.
    await new Promise((r) => setTimeout(r, 400));
    expect(app.models.requests).toHaveLength(1);
    expect(app.models.remaining()).toEqual({ "claude-haiku-4-5": plannerTurns.length - 1, "gpt-5-mini": generatorTurns.length });
    expect((await app.readRun(runId))?.pending).toEqual([]);
  });

  it("pauses before dispatch once the run has spent past the threshold, with the spend per role and model", async () => {
    app = await startApp({
      script: {
        "claude-haiku-4-5": [{ toolCalls: [{ name: "finish", args: plan }], usage: { input: 45_000, output: 100 } }],
        "gpt-5-mini": [...generatorTurns],
      },
      files: projectFiles,
      configYaml: `${configYaml}budget:\n  usd: 0.05\n  jobUsd: 0.05\n`,
    });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    const gh = app.github;
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("escalated");
    expect(run.failure).toEqual({ class: "permanent", reason: "budget_exhausted", detail: "spent 91 % of the budget (pause at 85 %)" });
    expect(run.question).toBe("The run has spent $0.05 and 45100 tokens. Raise the budget and retry, or take over?");
    expect(run.subtasks.impl).toMatchObject({ status: "pending", attempts: 0 });
    const handoff = handoffsOf(gh)[0]!;
    expect(handoff).toContain("| planner | `anthropic/claude-haiku-4-5` | 45100 | $0.0455 |");
    expect(handoff).toContain("- `impl` (generate) Implement farewell(name): pending, 0 attempt(s)");
    expect(gh.checkRuns).toEqual([expect.objectContaining({ head_sha: app.originSha, conclusion: "action_required", status: "completed" })]);
    // The generator never heard from us.
    await new Promise((r) => setTimeout(r, 300));
    expect(app.models.requests.filter((r) => r.body.model === "gpt-5-mini")).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// A restart: two app instances, one after the other, on the same state and work dirs. The kit's
// startApp makes fresh dirs, so this builds the same wiring with dirs (and GitHub, git, models)
// shared across both instances.

const webhookSecret = "kit-webhook-secret";

interface SharedWorld {
  root: string;
  stateDir: string;
  workDir: string;
  originSha: string;
  git: GitServer;
  models: ModelServer;
  github: FakeGitHub;
  privateKey: string;
}

interface Instance {
  port: number;
  shopfloor: Shopfloor;
  stop(): Promise<void>;
}

async function startWorld(script: ModelScript): Promise<SharedWorld> {
  const root = await mkdtemp(join(tmpdir(), "shopfloor-e2e-restart-"));
  const originRoot = join(root, "origin");
  const token = `ghs_${randomBytes(18).toString("hex")}`;
  const originSha = await makeOriginRepo(originRoot, owner, repoName, projectFiles, { branch: defaultBranch });
  const git = await startGitServer({ root: originRoot, token });
  const models = await startModelServer(script);
  const github = new FakeGitHub(`http://127.0.0.1:${git.port}/api/v3`, { owner, name: repoName, defaultBranch }, token);
  github.configYaml = configYaml;
  github.permissions = { Codertocat: "write" };
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  return { root, stateDir: join(root, "state"), workDir: join(root, "work"), originSha, git, models, github, privateKey };
}

const allowedHosts = new Set<string>();

async function startInstance(world: SharedWorld): Promise<Instance> {
  const port = await freePort();
  allowedHosts.add(`127.0.0.1:${port}`);
  allowedHosts.add(`127.0.0.1:${new URL(world.models.url).port}`);
  nock.disableNetConnect();
  nock.enableNetConnect((h) => allowedHosts.has(h));
  const env: Record<string, string> = {
    APP_ID: "1234",
    PRIVATE_KEY: world.privateKey,
    WEBHOOK_SECRET: webhookSecret,
    GHE_HOST: `127.0.0.1:${world.git.port}`,
    GHE_PROTOCOL: "http",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: process.env.KIT_LOG_LEVEL ?? "fatal",
    LOG_FORMAT: "json",
    SHOPFLOOR_STATE_DIR: world.stateDir,
    SHOPFLOOR_WORK_DIR: world.workDir,
    ANTHROPIC_BASE_URL: world.models.url,
    ANTHROPIC_API_KEY: "sk-ant-kit-key-never-leaks",
    OPENAI_BASE_URL: `${world.models.url}/v1`,
    OPENAI_API_KEY: "sk-openai-kit-key-never-leaks",
    SHOPFLOOR_COMMAND_TIMEOUT_MS: "60000",
    SHOPFLOOR_RECONCILE_EVERY: "0",
    SHOPFLOOR_RETRY_BASE_MS: "50",
  };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let shopfloor!: Shopfloor;
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const Octokit = ProbotOctokit.defaults((options: ConstructorParameters<typeof ProbotOctokit>[0]) => ({
    ...options,
    throttle: { ...options?.throttle, enabled: false },
    retry: { enabled: false },
  }));
  const server = await run(
    createShopfloor((s) => {
      shopfloor = s;
      ready();
    }),
    { env, Octokit },
  );
  await isReady;
  return {
    port,
    shopfloor,
    async stop() {
      // What a dying process does: nothing more of this engine reaches disk or GitHub.
      shopfloor.engine.stop();
      shopfloor.monitor.stop();
      await server.stop();
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
    },
  };
}

async function deliverTo(port: number, name: string, payload: unknown, deliveryId = randomBytes(8).toString("hex")): Promise<number> {
  return (await sendDelivery(`http://127.0.0.1:${port}/api/github/webhooks`, webhookSecret, { event: name, id: deliveryId, payload })).status;
}

async function readRunAt(stateDir: string): Promise<Run | undefined> {
  const text = await readFile(join(stateDir, "runs", owner, repoName, "1", "run.json"), "utf8").catch(() => undefined);
  return text ? RunSchema.parse(JSON.parse(text)) : undefined;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}


describe("a restart while a job runs", () => {
  it("brings the job back as transient worker_lost, retries it, and finishes with one PR and one progress comment", async () => {
    const world = await startWorld({
      ...reviewerScript(1),
      "claude-haiku-4-5": [...plannerTurns],
      "gpt-5-mini": [{ hang: true }, ...generatorTurns],
    });
    const instances: Instance[] = [];
    try {
      const first = await startInstance(world);
      instances.push(first);
      expect(await deliverTo(first.port, "issues", labeledPayload())).toBe(200);
      // The generator's first call is in flight and never answers; everything else the run decided is done.
      await until("the generator's first call", async () => (world.models.requests.some((r) => r.body.model === "gpt-5-mini") ? true : undefined));
      const before = await until("only the build job pending", async () => {
        const r = await readRunAt(world.stateDir);
        // A progress update may wait its turn beside it (updates are coalesced while the run works).
        const work = r?.pending.filter((e) => !(e.kind === "upsertProgressComment" && e.notBefore !== undefined)) ?? [];
        return work.length === 1 && work[0]!.kind === "dispatchJob" && r?.progressCommentId !== undefined ? r : undefined;
      });
      expect(before.phase).toBe("building");
      expect(before.subtasks.impl).toMatchObject({ status: "running", attempts: 1 });
      await first.stop();

      const second = await startInstance(world);
      instances.push(second);
      const run = await until("the run to finish", async () => {
        const r = await readRunAt(world.stateDir);
        return r && terminalPhases.includes(r.phase) && r.pending.length === 0 ? r : undefined;
      });
      const gh = world.github;
      expect(gh.unexpected).toEqual([]);
      expect(run.phase).toBe("gated");
      expect(run.gate?.conclusion).toBe("success");

      // The journal: the lost job came back as transient worker_lost and was retried as attempt 2.
      const journal = await journalOf(world.stateDir);
      const failed = failedJobs(journal);
      expect(failed).toEqual([
        {
          jobId: `${runId}:build:impl:a1`,
          failure: { class: "transient", reason: "worker_lost", detail: "the process running this job stopped before it finished" },
          phase: "building",
        },
      ]);
      const lostAt = journal.findIndex((e) => e.event.type === "job.failed");
      expect(journal[lostAt]!.effects).toHaveLength(1);
      expect(journal.slice(lostAt + 1).some((e) => e.event.type === "job.succeeded" && (e.event as any).jobId === `${runId}:build:impl:a2`)).toBe(true);
      expect(run.subtasks.impl).toMatchObject({ status: "ok", attempts: 2 });
      // The retried generator was told the worker stopped mid-job.
      const generator = world.models.requests.filter((r) => r.body.model === "gpt-5-mini");
      expect(generator).toHaveLength(1 + generatorTurns.length);
      expect(JSON.stringify(generator[1]!.body.messages)).toContain("Attempt 1 failed: transient / worker_lost");

      // Exactly one PR, one progress comment, one gate check, no escalation.
      expect(gh.count("POST", `${full}/pulls`)).toBe(1);
      expect(gh.pulls).toHaveLength(1);
      expect(gh.count("POST", `${full}/issues/1/comments`)).toBe(1);
      expect(gh.comments.get(1)).toHaveLength(1);
      expect(gh.comments.get(1)![0]!.body).toContain(progressMarker);
      expect(gh.comments.get(1)![0]!.body).toContain("**Gate:** `success`");
      expect(gh.count("POST", `${full}/check-runs`)).toBe(1);
      expect(gh.checkRuns).toEqual([expect.objectContaining({ head_sha: run.headSha, status: "completed", conclusion: "success" })]);
      expect(gh.labels.get(1)).toBeUndefined();
      expect(world.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0, "claude-opus-4-1": 0, "gpt-4.1": 0 });
    } finally {
      for (const i of instances.reverse()) await i.stop().catch(() => undefined);
      // Closing the model server ends the hanging call; the stopped first engine only cleans its worktree.
      await world.models.close();
      for (const i of instances) await Promise.race([i.shopfloor.engine.idle(), new Promise((r) => setTimeout(r, 2000))]);
      await world.git.close();
      world.github.close();
      nock.enableNetConnect();
      await rm(world.root, { recursive: true, force: true });
    }
  });
});

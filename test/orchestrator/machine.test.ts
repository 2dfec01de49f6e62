import { describe, expect, it } from "vitest";
import { defaultRepoConfig, RepoConfigSchema } from "../../src/domain/index.js";
import { decide, runBranch } from "../../src/orchestrator/machine.js";
import { Driver, at, plan, requested, result, runId } from "./fixtures.js";
import { skipCall } from "../kit/skip-text.js";

describe("decide", () => {
  it("starts a run on a request: reads the config first, nothing posted yet", () => {
    const d = new Driver();
    const effects = d.step(requested);
    expect(d.run?.phase).toBe("configuring");
    expect(d.run?.branch).toBe("shopfloor/7-add-a-farewell-helper");
    expect(effects.map((e) => e.kind)).toEqual(["loadConfig"]);
    expect(effects[0]!.key).toBe(`${runId}:loadConfig:1`);
  });

  it("ignores a second request while the run is active", () => {
    const d = new Driver();
    d.step(requested);
    const before = d.run;
    expect(d.step({ ...requested, deliveryId: "d-2" })).toEqual([]);
    expect(d.run).toBe(before);
    expect(d.notes[0]).toMatch(/already configuring/);
  });

  it("starts again after a terminal run, without reusing effect keys", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.invalid", runId, at, key: d.pending("loadConfig").key, errors: ["`budget.usd`: bad"] });
    expect(d.run?.phase).toBe("rejected");
    const seq = d.run!.effectSeq;
    const effects = d.step({ ...requested, deliveryId: "d-3" });
    expect(d.run?.phase).toBe("configuring");
    expect(effects[0]!.key).toBe(`${runId}:loadConfig:${seq + 1}`);
  });

  it("plans once the config is loaded, and shows progress", () => {
    const d = new Driver();
    d.step(requested);
    const effects = d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    expect(d.run?.phase).toBe("planning");
    expect(effects.map((e) => e.kind)).toEqual(["dispatchJob", "upsertProgressComment"]);
    const job = d.job("plan").job;
    expect(job).toMatchObject({ kind: "plan", jobId: `${runId}:plan:a1`, defaultBranch: "main", attempt: 1 });
    expect("route" in job).toBe(false);
  });

  it("passes the repo's model route to the job when the config names one", () => {
    const d = new Driver();
    d.step(requested);
    const config = RepoConfigSchema.parse({ models: { planner: "local/qwen3-coder" } });
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config, defaultBranch: "trunk" });
    expect(d.job("plan").job).toMatchObject({ route: "local/qwen3-coder", defaultBranch: "trunk" });
  });

  it("passes the repo's per-role limits to the jobs of that role only", () => {
    const d = new Driver();
    d.step(requested);
    const config = RepoConfigSchema.parse({ agents: { generator: { maxTurns: 12, timeoutMinutes: 5 } } });
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config, defaultBranch: "main" });
    expect(d.job("plan").job.limits).toBeUndefined();
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    expect(d.job("build").job.limits).toEqual({ maxTurns: 12, timeoutMinutes: 5 });
    expect(RepoConfigSchema.safeParse({ agents: { generator: { maxTurns: 100_000 } } }).success).toBe(false);
  });

  it("rejects an invalid config with one comment naming the field", () => {
    const d = new Driver();
    d.step(requested);
    const effects = d.step({ type: "config.invalid", runId, at, key: d.pending("loadConfig").key, errors: ["`budget.usd`: expected number, received string"] });
    expect(d.run?.phase).toBe("rejected");
    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({ kind: "postConfigError" });
    expect(effects[0]!.kind === "postConfigError" && effects[0]!.body).toContain("`budget.usd`: expected number");
  });

  it("ignores an answer to an effect that is not pending (a repeat after a crash)", () => {
    const d = new Driver();
    d.step(requested);
    const key = d.pending("loadConfig").key;
    d.step({ type: "config.loaded", runId, at, key, config: defaultRepoConfig, defaultBranch: "main" });
    const before = d.run;
    expect(d.step({ type: "config.loaded", runId, at, key, config: defaultRepoConfig, defaultBranch: "main" })).toEqual([]);
    expect(d.run).toBe(before);
  });

  it("remembers the progress comment id", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    d.step({ type: "comment.upserted", runId, at, key: d.pending("upsertProgressComment").key, commentId: 99 });
    expect(d.run?.progressCommentId).toBe(99);
  });

  it("builds an accepted plan one subtask at a time, in dependency order", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    const reversed = { ...plan, subtasks: [...plan.subtasks].reverse() };
    d.answerJob("plan", { kind: "plan", plan: reversed, baseSha: "base0", usage: [] });
    expect(d.run?.phase).toBe("building");
    const first = d.job("build").job;
    expect(first).toMatchObject({ kind: "build", fromSha: "base0", branch: "shopfloor/7-add-a-farewell-helper" });
    expect(first.kind === "build" && first.subtask.id).toBe("impl");
    expect(d.run?.subtasks).toEqual({ impl: { status: "running", attempts: 1 }, docs: { status: "pending", attempts: 0 } });
    d.answerJob("build", { kind: "build", result: result("sha1") });
    const second = d.job("build").job;
    expect(second.kind === "build" && [second.subtask.id, second.fromSha]).toEqual(["docs", "sha1"]);
    d.answerJob("build", { kind: "build", result: result("sha2") });
    expect(d.run?.phase).toBe("scrutiny");
    // No test command in the config: the runner detects one; the contract's command runs either way.
    expect(d.job("scrutiny").job).toMatchObject({ headSha: "sha2", commands: [{ name: "contract A1", cmd: "npm test" }], detectTest: true, setup: { allow: [] } });
    expect(d.run?.usage.map((u) => u.role)).toEqual(["generate", "generate"]);
  });

  it("re-asks the planner once with the checker's objections, then escalates", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    const bad = { ...plan, subtasks: plan.subtasks.map((s) => ({ ...s, role: "review" as const })) };
    d.answerJob("plan", { kind: "plan", plan: bad, baseSha: "base0", usage: [] });
    expect(d.run?.phase).toBe("planning");
    const reask = d.job("plan").job;
    expect(reask).toMatchObject({ jobId: `${runId}:plan:a2`, attempt: 2 });
    expect(reask.kind === "plan" && reask.feedback).toEqual(["the plan has no generate subtask"]);
    const effects = d.answerJob("plan", { kind: "plan", plan: bad, baseSha: "base0", usage: [] });
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure).toMatchObject({ class: "permanent", reason: "invalid_output" });
    expect(d.run?.failure?.detail).toContain("no generate subtask");
    expect(effects.map((e) => e.kind)).toEqual(["addLabels", "postHandoff", "upsertProgressComment"]);
  });

  it("escalates when a worker reports blocked: label, owners, handoff, gate action_required", () => {
    const d = new Driver();
    d.step(requested);
    const config = RepoConfigSchema.parse({ owners: ["alice", "bob"] });
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config, defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    const effects = d.answerJob("build", { kind: "build", result: { ...result("base0", "blocked"), summary: "cannot find the config loader" } });
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.subtasks.impl?.status).toBe("blocked");
    expect(d.run?.failure?.reason).toBe("blocked");
    expect(effects.map((e) => e.kind)).toEqual(["addLabels", "assignOwners", "postHandoff", "publishGate", "upsertProgressComment"]);
    expect(effects[0]).toMatchObject({ labels: ["agent:blocked"] });
    expect(effects[1]).toMatchObject({ owners: ["alice", "bob"] });
    const handoff = effects[2]!.kind === "postHandoff" ? effects[2]!.body : "";
    expect(handoff).toContain("### Shopfloor needs a person");
    expect(handoff).toContain("**Question:**");
    expect(handoff).toContain("cannot find the config loader");
    expect(handoff).toContain("**Spend:**");
    expect(effects[3]).toMatchObject({ kind: "publishGate", headSha: "base0", conclusion: "action_required" });
  });

  it("escalates a confident-sounding result under the confidence threshold", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ confidence: { threshold: 0.8 } }), defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    d.answerJob("build", { kind: "build", result: { ...result("sha1"), confidence: 0.7 } });
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure).toMatchObject({ class: "permanent", reason: "low_confidence" });
  });

  it("waits for approval on a high-risk plan, then builds on plan.approved", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    const effects = d.answerJob("plan", { kind: "plan", plan: { ...plan, risk: "high" }, baseSha: "base0", usage: [] });
    expect(d.run?.phase).toBe("awaiting_approval");
    expect(effects.map((e) => e.kind)).toEqual(["upsertProgressComment"]);
    expect(effects[0]!.kind === "upsertProgressComment" && effects[0]!.body).toContain("`/approve`");
    d.step({ type: "plan.approved", runId, at, by: "maintainer" });
    expect(d.run?.phase).toBe("building");
    expect(d.run?.approvedBy).toBe("maintainer");
    expect(d.job("build").job).toMatchObject({ fromSha: "base0" });
  });

  it("answers an approval from Mission Control on the issue, naming who acted and where", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan: { ...plan, risk: "high" }, baseSha: "base0", usage: [] });
    const effects = d.step({ type: "command.received", runId, at, command: "approve", note: "", by: "lead", source: "mission-control" });
    expect(d.run?.phase).toBe("building");
    expect(effects.find((e) => e.kind === "postReply")).toMatchObject({ body: "@lead (from Mission Control) approved the plan; building now." });
  });

  it("asks for approval of any plan when the repo config says always", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ approval: { always: true } }), defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    expect(d.run?.phase).toBe("awaiting_approval");
    expect(d.step({ type: "plan.approved", runId, at: "2026-11-21T10:05:00.000Z", by: "x" }).length).toBeGreaterThan(0);
    expect(d.step({ type: "plan.approved", runId, at, by: "x" })).toEqual([]);
    expect(d.notes.at(-1)).toMatch(/nothing to approve while building/);
  });

  it("opens no PR when nothing changed, and hands it to a person", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    d.answerJob("build", { kind: "build", result: result("base0") });
    d.answerJob("build", { kind: "build", result: result("base0") });
    d.scrutiny(0);
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure?.reason).toBe("no_change");
    expect(d.effects.some((e) => e.kind === "openPullRequest")).toBe(false);
  });

  it("pauses and escalates with the breakdown when spend reaches the pause threshold", () => {
    const d = new Driver();
    d.step(requested);
    const config = RepoConfigSchema.parse({ budget: { usd: 1, jobUsd: 0.2, pauseAt: 0.85 } });
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config, defaultBranch: "main" });
    expect(d.job("plan").job.cap).toEqual({ usd: 0.2, tokens: 400_000 });
    const expensive = [{ provider: "anthropic", model: "claude-opus-4-1", inputTokens: 1000, outputTokens: 100, cachedTokens: 0, costUsd: 0.9 }];
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: expensive });
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure).toMatchObject({ class: "permanent", reason: "budget_exhausted" });
    expect(d.run?.failure?.detail).toContain("90 % of the budget");
    expect(d.run?.pending.some((p) => p.kind === "dispatchJob")).toBe(false);
    const handoff = d.effects.find((e) => e.kind === "postHandoff");
    expect(handoff?.kind === "postHandoff" && handoff.body).toContain("| planner | `anthropic/claude-opus-4-1` | 1100 | $0.9000 |");
  });

  it("does not start a job that the remaining budget cannot cover at its cap", () => {
    const d = new Driver();
    d.step(requested);
    const config = RepoConfigSchema.parse({ budget: { usd: 1, jobUsd: 0.5, pauseAt: 0.99 } });
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config, defaultBranch: "main" });
    const usage = [{ provider: "openai", model: "gpt-5", inputTokens: 10, outputTokens: 10, cachedTokens: 0, costUsd: 0.6 }];
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage });
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure?.detail).toContain("cannot cover one job's cap");
  });
  it("opens a draft PR after scrutiny, with Closes #N in the body", () => {
    const d = new Driver();
    d.toScrutiny();
    const effects = (d.scrutiny(0), d.effects);
    expect(d.run?.phase).toBe("publishing");
    expect(effects).toHaveLength(1);
    const pr = effects[0]!;
    expect(pr).toMatchObject({ kind: "openPullRequest", head: "shopfloor/7-add-a-farewell-helper", base: "main", title: "Add a farewell() helper!" });
    expect(pr.kind === "openPullRequest" && pr.body).toContain("Closes #7");
    expect(pr.kind === "openPullRequest" && pr.body).toContain("| `A1` |");
  });

  it("opens the review round on the PR: gate in_progress, one job per reviewer", () => {
    const d = new Driver();
    d.toScrutiny();
    d.scrutiny(0);
    const effects = d.step({ type: "pr.opened", runId, at, key: d.pending("openPullRequest").key, number: 12, url: "https://x/pull/12" });
    expect(d.run?.phase).toBe("reviewing");
    expect(effects.map((e) => e.kind)).toEqual(["publishGate", "dispatchJob", "dispatchJob", "upsertProgressComment"]);
    expect(effects[0]).toMatchObject({ kind: "publishGate", headSha: "sha2" });
    expect(effects[0]!.kind === "publishGate" && effects[0]!.conclusion).toBeUndefined();
    const routes = effects.filter((e) => e.kind === "dispatchJob").map((e) => e.kind === "dispatchJob" && e.job.kind === "review" && e.job.route);
    expect(routes).toEqual(["anthropic/claude-sonnet-5-5", "openai/gpt-5.4"]);
  });

  for (const [exitCode, conclusion] of [[0, "success"], [1, "failure"]] as const) {
    it(`concludes the gate ${conclusion} when reviewers approve, CI is green and the test command exits ${exitCode}`, () => {
      const d = new Driver();
      // No fix attempt: the failing test goes on to the gate as it is.
      d.toReview(exitCode, RepoConfigSchema.parse({ commands: { fixAttempts: 0 } }));
      expect(d.review("r1", "approve").map((e) => e.kind)).toEqual(["postReview"]);
      expect(d.review("r2", "approve").map((e) => e.kind)).toEqual(["postReview", "readCi"]);
      expect(d.run?.phase).toBe("awaiting_ci");
      const effects = d.ci([{ name: "build", app: "github-actions", status: "completed", conclusion: "success", url: "", details: "" }]);
      expect(effects).toHaveLength(1);
      expect(effects[0]).toMatchObject({ kind: "publishGate", headSha: "sha2", conclusion });
      const gate = effects[0]!;
      if (gate.kind === "publishGate") expect(gate.summary).toContain(`\`npm test\` (test) | ${exitCode ? "❌ fail" : "✅ pass"} | exit ${exitCode}`);
      const after = d.step({ type: "gate.published", runId, at, key: gate.key, checkRunId: 5 });
      expect(d.run?.phase).toBe("gated");
      expect(d.run?.gate).toMatchObject({ conclusion, checkRunId: 5 });
      expect(after.map((e) => e.kind)).toEqual(conclusion === "success" ? ["markReady", "upsertProgressComment"] : ["upsertProgressComment"]);
    });
  }

  it("on success marks the PR ready and asks the owners to review", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ owners: ["alice"], ci: { graceMinutes: 0 } }), defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    d.answerJob("build", { kind: "build", result: result("sha1") });
    d.answerJob("build", { kind: "build", result: result("sha2") });
    d.scrutiny(0);
    d.step({ type: "pr.opened", runId, at, key: d.pending("openPullRequest").key, number: 12, url: "u" });
    d.review("r1", "approve");
    d.review("r2", "approve");
    const [gate] = d.ci([{ name: "build", app: "github-actions", status: "completed", conclusion: "success", url: "", details: "" }]);
    const after = d.step({ type: "gate.published", runId, at, key: gate!.key, checkRunId: 5 });
    expect(after.slice(0, 2)).toMatchObject([{ kind: "markReady", pullNumber: 12 }, { kind: "requestReviewers", pullNumber: 12, logins: ["alice"] }]);
  });

  it("runs one fix round on a high finding, reviews the new head, then succeeds", () => {
    const d = new Driver();
    d.toReview();
    const finding = { file: "src/farewell.js", line: 2, severity: "high" as const, assertions: ["A1"], body: "returns the wrong greeting" };
    d.review("r1", "approve");
    d.review("r2", "request_changes", [finding]);
    expect(d.run?.phase).toBe("building");
    const fix = d.job("build").job;
    expect(fix.kind === "build" && fix.subtask).toMatchObject({ id: "fix-r1", role: "generate", files: ["src/farewell.js"] });
    expect(fix.kind === "build" && fix.subtask.brief).toContain("[high] src/farewell.js:2 — returns the wrong greeting");
    expect(fix).toMatchObject({ fromSha: "sha2" });
    d.answerJob("build", { kind: "build", result: result("sha3") });
    expect(d.job("scrutiny").job).toMatchObject({ headSha: "sha3" });
    d.scrutiny(0);
    // The PR exists: no second PR, a new review round on the new head.
    expect(d.effects.some((e) => e.kind === "openPullRequest")).toBe(false);
    expect(d.run).toMatchObject({ phase: "reviewing", reviewRound: 2, reviews: [] });
    d.review("r1", "approve");
    d.review("r2", "approve");
    const [gate] = d.ci([{ name: "build", app: "github-actions", status: "completed", conclusion: "success", url: "", details: "" }]);
    expect(gate).toMatchObject({ kind: "publishGate", headSha: "sha3", conclusion: "success" });
  });

  it("escalates a critical finding that survives the fix round, gate action_required", () => {
    const d = new Driver();
    d.toReview();
    const critical = { file: "src/farewell.js", line: 1, severity: "critical" as const, assertions: [], body: "deletes user data" };
    d.review("r1", "request_changes", [critical]);
    d.review("r2", "approve");
    d.answerJob("build", { kind: "build", result: result("sha3") });
    d.scrutiny(0);
    d.review("r1", "request_changes", [critical]);
    const effects = d.review("r2", "approve");
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure).toMatchObject({ reason: "failed_review" });
    expect(d.run?.failure?.detail).toContain("critical at src/farewell.js:1");
    const gate = effects.find((e) => e.kind === "publishGate");
    expect(gate).toMatchObject({ conclusion: "action_required", headSha: "sha3" });
    expect(gate?.kind === "publishGate" && gate.summary).toContain("### Reviewers disagree");
    expect(gate?.kind === "publishGate" && gate.annotations).toEqual([
      { path: "src/farewell.js", line: 1, level: "failure", title: "critical (anthropic/claude-sonnet-5-5)", message: "deletes user data" },
    ]);
  });

  it("escalates at once on disagreement when the repo says so", () => {
    const d = new Driver();
    d.step(requested);
    const config = RepoConfigSchema.parse({ review: { onDisagreement: "escalate" } });
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config, defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    d.answerJob("build", { kind: "build", result: result("sha1") });
    d.answerJob("build", { kind: "build", result: result("sha2") });
    d.scrutiny(0);
    d.step({ type: "pr.opened", runId, at, key: d.pending("openPullRequest").key, number: 12, url: "u" });
    d.review("r1", "approve");
    d.review("r2", "request_changes");
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure?.detail).toBe("the reviewers disagree");
  });

  it("waits for running CI, then fixes a red CI with the failing output in the brief", () => {
    const d = new Driver();
    d.toReview();
    d.review("r1", "approve");
    d.review("r2", "approve");
    expect(d.ci([{ name: "build", app: "github-actions", status: "in_progress", conclusion: null, url: "", details: "" }])).toEqual([]);
    expect(d.run?.phase).toBe("awaiting_ci");
    expect(d.step({ type: "ci.completed", runId, at, headSha: "other" })).toEqual([]);
    expect(d.step({ type: "ci.completed", runId, at, headSha: "sha2" }).map((e) => e.kind)).toEqual(["readCi"]);
    d.ci([{ name: "build", app: "github-actions", status: "completed", conclusion: "failure", url: "https://ci/1", details: "TypeError: farewell is not a function" }]);
    const fix = d.job("build").job;
    expect(fix.kind === "build" && fix.subtask.id).toBe("ci-fix-1");
    expect(fix.kind === "build" && fix.subtask.brief).toContain("TypeError: farewell is not a function");
  });

  it("escalates a CI that stays red past the bound, quoting the failing logs", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ ci: { fixAttempts: 0 } }), defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    d.answerJob("build", { kind: "build", result: result("sha1") });
    d.answerJob("build", { kind: "build", result: result("sha2") });
    d.scrutiny(0);
    d.step({ type: "pr.opened", runId, at, key: d.pending("openPullRequest").key, number: 12, url: "u" });
    d.review("r1", "approve");
    d.review("r2", "approve");
    d.ci([{ name: "lint", app: "github-actions", status: "completed", conclusion: "failure", url: "", details: "src/x.js:1 no-unused-vars" }]);
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure?.detail).toContain("src/x.js:1 no-unused-vars");
  });

  it("fails the gate on test integrity and protected paths, with evidence", () => {
    const d = new Driver();
    d.toScrutiny();
    d.answerJob("scrutiny", {
      kind: "scrutiny",
      commands: [{ name: "test", cmd: "npm test", exitCode: 0, ms: 10, timedOut: false, outputTail: "" }],
      integrity: { deletedTests: ["test/a.test.js"], newSkips: [`test/b.test.js:3: ${skipCall("it", "skip")}"x")`], testCountBase: 5, testCountHead: 3, protectedTouched: [".github/workflows/ci.yml"], conflicts: [] },
    });
    d.step({ type: "pr.opened", runId, at, key: d.pending("openPullRequest").key, number: 12, url: "u" });
    d.review("r1", "approve");
    d.review("r2", "approve");
    const [gate] = d.ci([{ name: "build", app: "github-actions", status: "completed", conclusion: "success", url: "", details: "" }]);
    expect(gate).toMatchObject({ kind: "publishGate", conclusion: "failure" });
    const summary = gate!.kind === "publishGate" ? gate!.summary : "";
    expect(summary).toContain("| Test integrity against the base | ❌ fail | deleted test file test/a.test.js; new skip/only: test/b.test.js:3");
    expect(summary).toContain("test count fell from 5 to 3");
    expect(summary).toContain("| Protected paths untouched | ❌ fail | changed .github/workflows/ci.yml");
  });

  it("retries a transient failure after a jittered backoff with a reflection, then escalates at the limit", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    const failures = ["429 one", "429 two", "429 three"];
    for (const [i, detail] of failures.slice(0, 2).entries()) {
      const e = d.job("plan");
      expect(e.job.attempt).toBe(i + 1);
      d.step({ type: "job.failed", runId, at, key: e.key, jobId: e.job.jobId, failure: { class: "transient", reason: "rate_limit", detail }, usage: [], jitter: 0 });
      expect(d.run?.phase).toBe("planning");
      const next = d.job("plan");
      // Backoff: 2 s then 4 s, halved by jitter 0, measured from the event's time.
      expect(next.notBefore).toBe(new Date(Date.parse(at) + [1000, 2000][i]!).toISOString());
      expect(next.job.reflection).toContain(`Attempt ${i + 1} failed: transient / rate_limit: ${detail}`);
    }
    const last = d.job("plan");
    expect(last.job.jobId).toBe(`${runId}:plan:a3`);
    d.step({ type: "job.failed", runId, at, key: last.key, jobId: last.job.jobId, failure: { class: "transient", reason: "rate_limit", detail: failures[2]! }, usage: [] });
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure?.detail).toContain("3 of 3 attempts used");
    expect(d.run?.attempts.map((a) => a.failure.detail)).toEqual(failures);
    expect(d.run?.pending.some((p) => p.kind === "dispatchJob")).toBe(false);
  });

  it("honours the server's retry-after when it is longer than the backoff", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    const e = d.job("plan");
    d.step({ type: "job.failed", runId, at, key: e.key, jobId: e.job.jobId, failure: { class: "transient", reason: "rate_limit", detail: "429", retryAfterMs: 30_000 }, usage: [], jitter: 0.9 });
    expect(d.job("plan").notBefore).toBe(new Date(Date.parse(at) + 30_000).toISOString());
  });

  it("escalates the same failure twice in a row without waiting for the attempt limit", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    const failure = { class: "transient" as const, reason: "timeout" as const, detail: "model call timed out after 600 s" };
    for (let i = 0; i < 2; i++) {
      const e = d.job("plan");
      d.step({ type: "job.failed", runId, at, key: e.key, jobId: e.job.jobId, failure, usage: [] });
    }
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure?.detail).toContain("the same failure twice in a row");
  });

  it("escalates at once on a permanent job failure, keeping its usage", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    const e = d.job("build");
    const usage = [{ provider: "openai", model: "gpt-5", inputTokens: 5, outputTokens: 5, cachedTokens: 0, costUsd: 0.01 }];
    d.step({ type: "job.failed", runId, at, key: e.key, jobId: e.job.jobId, failure: { class: "permanent", reason: "policy_violation", detail: "wrote README" }, usage });
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.subtasks.impl).toMatchObject({ status: "failed", failure: { reason: "policy_violation" } });
    expect(d.run?.usage).toEqual([{ ...usage[0], role: "generate", at }]);
  });

  it("shrugs off a failed progress update, retries a transient GitHub failure, escalates a permanent one", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    d.step({ type: "effect.failed", runId, at, key: d.pending("upsertProgressComment").key, failure: { class: "transient", reason: "server_error", detail: "502" } });
    expect(d.run?.phase).toBe("planning");
    expect(d.run?.pending.some((p) => p.kind === "upsertProgressComment")).toBe(false);
    const d2 = new Driver();
    d2.toScrutiny();
    d2.scrutiny(0);
    d2.step({ type: "effect.failed", runId, at, key: d2.pending("openPullRequest").key, failure: { class: "transient", reason: "server_error", detail: "502" }, jitter: 0 });
    expect(d2.run?.phase).toBe("publishing");
    expect(d2.pending("openPullRequest").notBefore).toBe(new Date(Date.parse(at) + 1000).toISOString());
    d2.step({ type: "effect.failed", runId, at, key: d2.pending("openPullRequest").key, failure: { class: "permanent", reason: "invalid_output", detail: "HTTP 422" } });
    expect(d2.run?.phase).toBe("escalated");
    expect(d2.effects.find((e) => e.kind === "publishGate")).toMatchObject({ headSha: "sha2", conclusion: "action_required" });
  });

  it("runs writers with disjoint files side by side in parallel mode, each landing by integration", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ parallel: true }), defaultBranch: "main" });
    const wide = { ...plan, subtasks: plan.subtasks.map((s) => ({ ...s, dependsOn: [] })) };
    const effects = d.answerJob("plan", { kind: "plan", plan: wide, baseSha: "base0", usage: [] });
    const jobs = effects.filter((e) => e.kind === "dispatchJob").map((e) => (e.kind === "dispatchJob" && e.job.kind === "build" ? [e.job.subtask.id, e.job.fromSha, e.job.integrate] : []));
    expect(jobs).toEqual([["impl", "base0", true], ["docs", "base0", true]]);
    // Results land in any order; scrutiny tests whatever the branch holds then.
    d.step({ type: "job.succeeded", runId, at, key: d.job("build").key, jobId: d.job("build").job.jobId, output: { kind: "build", result: result("sha-b") } });
    d.step({ type: "job.succeeded", runId, at, key: d.job("build").key, jobId: d.job("build").job.jobId, output: { kind: "build", result: result("sha-a") } });
    expect(d.job("scrutiny").job).toMatchObject({ branch: "shopfloor/7-add-a-farewell-helper" });
    d.answerJob("scrutiny", { kind: "scrutiny", commands: [{ name: "test", cmd: "npm test", exitCode: 0, ms: 1, timedOut: false, outputTail: "" }], headSha: "tip-with-both" });
    expect(d.run?.headSha).toBe("tip-with-both");
    expect(d.effects.map((e) => e.kind)).toEqual(["openPullRequest"]);
  });

  it("keeps writers that share files serial even in parallel mode", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ parallel: true }), defaultBranch: "main" });
    const shared = { ...plan, subtasks: plan.subtasks.map((s) => ({ ...s, dependsOn: [], files: ["src/farewell.js"] })) };
    // The plan checker refuses parallel siblings sharing files, so the run stops before building.
    d.answerJob("plan", { kind: "plan", plan: shared, baseSha: "base0", usage: [] });
    const reask = d.job("plan").job;
    expect(reask.kind === "plan" ? reask.feedback?.[0] : undefined).toContain("may run in parallel but both own src/farewell.js");
  });

  it("redoes a conflicting subtask once, alone on the latest tip, then escalates a second conflict", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ parallel: true }), defaultBranch: "main" });
    const wide = { ...plan, subtasks: plan.subtasks.map((s) => ({ ...s, dependsOn: [] })) };
    d.answerJob("plan", { kind: "plan", plan: wide, baseSha: "base0", usage: [] });
    const impl = d.job("build").job;
    const conflict = { class: "permanent" as const, reason: "conflict" as const, detail: "subtask impl conflicts on the run branch in src/farewell.js" };
    d.step({ type: "job.failed", runId, at, key: d.job("build").key, jobId: impl.jobId, failure: conflict, usage: [] });
    // The fix-up waits for the running subtask to land.
    expect(d.run?.pending.filter((p) => p.kind === "dispatchJob")).toHaveLength(1);
    d.step({ type: "job.succeeded", runId, at, key: d.job("build").key, jobId: d.job("build").job.jobId, output: { kind: "build", result: result("sha-docs") } });
    const fixup = d.job("build").job;
    expect(fixup).toMatchObject({ jobId: `${runId}:build:impl:a2`, fromSha: "sha-docs" });
    expect(fixup.reflection).toContain("conflict");
    d.step({ type: "job.failed", runId, at, key: d.job("build").key, jobId: fixup.jobId, failure: conflict, usage: [] });
    expect(d.run?.phase).toBe("escalated");
    expect(d.run?.failure?.reason).toBe("conflict");
  });

  it("acts once on a delivery taken again after a crash", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ approval: { always: true } }), defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
    const cancel = { type: "command.received" as const, runId, at, command: "status" as const, note: "", by: "writer", source: "comment" as const, commentId: 5, delivery: "dlv-9" };
    expect(d.step(cancel).map((e) => e.kind)).toEqual(["addReaction", "postReply"]);
    expect(d.step(cancel)).toEqual([]);
    expect(d.notes.at(-1)).toBe("delivery dlv-9 was already acted on");
  });

  it("is pure: the same notes and event give the same decision", () => {
    const a = decide(undefined, requested);
    const b = decide(undefined, requested);
    expect(a).toEqual(b);
  });
});

describe("runBranch", () => {
  it("is deterministic and safe for git", () => {
    expect(runBranch(12, "Fix: crash on `../etc` paths — ünïcode!")).toBe("shopfloor/12-fix-crash-on-etc-paths-unicode");
    expect(runBranch(3, "!!!")).toBe("shopfloor/3");
    expect(runBranch(4, "a".repeat(100)).length).toBeLessThanOrEqual("shopfloor/4-".length + 40);
  });
});

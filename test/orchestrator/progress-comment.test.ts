import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RepoConfigSchema, defaultRepoConfig, type Effect, type Job, type JobOutcome } from "../../src/domain/index.js";
import { Engine } from "../../src/orchestrator/engine.js";
import type { EffectContext } from "../../src/orchestrator/effects/index.js";
import { defaultMachineSettings } from "../../src/orchestrator/machine.js";
import type { JobQueue } from "../../src/queue/job-queue.js";
import { FileRunStore } from "../../src/store/file.js";
import { Driver, plan, requested, result, runId } from "./fixtures.js";
import { MemoryGitHub } from "./memory-github.js";
import { emptyHealth, goneStatus } from "./queue-fakes.js";

/**
 * The progress comment is what a person reads on the issue, and each edit is a rate-limited
 * GitHub write: it is posted at once, coalesced while the run works, and always ends on the final state.
 */

const t0 = Date.parse("2026-11-21T10:00:00.000Z");
const t = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
type Progress = Extract<Effect, { kind: "upsertProgressComment" }>;
const progressOf = (d: Driver): Progress[] => d.run!.pending.filter((e): e is Progress => e.kind === "upsertProgressComment");

/** A run whose plan has two subtasks, planned at `plannedAt`, its comment posted as id 99. */
function planned(plannedAt: number, config = defaultRepoConfig): Driver {
  const d = new Driver();
  d.step({ ...requested, at: t(0) });
  d.step({ type: "config.loaded", runId, at: t(0), key: d.pending("loadConfig").key, config, defaultBranch: "main" });
  d.step({ type: "comment.upserted", runId, at: t(1), key: d.pending("upsertProgressComment").key, commentId: 99 });
  const job = d.job("plan");
  d.step({ type: "job.succeeded", runId, at: t(plannedAt), key: job.key, jobId: job.job.jobId, output: { kind: "plan", plan, baseSha: "base0", usage: [] } });
  return d;
}

function build(d: Driver, at: number, status: "ok" | "blocked", sha: string): Effect[] {
  const job = d.job("build");
  return d.step({ type: "job.succeeded", runId, at: t(at), key: job.key, jobId: job.job.jobId, output: { kind: "build", result: result(sha, status) } });
}

describe("the progress comment's writes", () => {
  it("posts the comment at once when planning starts", () => {
    const d = new Driver();
    d.step({ ...requested, at: t(0) });
    const effects = d.step({ type: "config.loaded", runId, at: t(0), key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    const posted = effects.find((e) => e.kind === "upsertProgressComment");
    expect(posted).toBeDefined();
    expect(posted!.notBefore).toBeUndefined();
  });

  it("while the run works, one update waits out the window and a newer one takes its place and its time", () => {
    const d = planned(10);
    expect(progressOf(d)).toHaveLength(1);
    expect(progressOf(d)[0]!.notBefore).toBe(t(40));
    expect(progressOf(d)[0]!.body).toContain("`impl` (generate) Implement farewell — running");

    build(d, 20, "ok", "sha1");
    const [waiting] = progressOf(d);
    expect(progressOf(d)).toHaveLength(1);
    // The same turn, not a fresh 30 s: a run that keeps changing is still shown every window.
    expect(waiting!.notBefore).toBe(t(40));
    expect(waiting!.body).toContain("`impl` (generate) Implement farewell — ok");
    expect(waiting!.body).toContain("`docs` (generate) Document farewell — running");
  });

  it("an update after the last one was written waits a whole window from now", () => {
    const d = planned(10);
    d.step({ type: "comment.upserted", runId, at: t(40), key: progressOf(d)[0]!.key, commentId: 99 });
    build(d, 50, "ok", "sha1");
    expect(progressOf(d).map((e) => e.notBefore)).toEqual([t(80)]);
  });

  it("the final state goes at once and replaces what waited: the comment ends on it", () => {
    const d = planned(10);
    const effects = build(d, 20, "blocked", "sha1");
    expect(d.run!.phase).toBe("escalated");
    expect(effects.filter((e) => e.kind === "upsertProgressComment").map((e) => e.notBefore)).toEqual([undefined]);
    const [final] = progressOf(d);
    expect(progressOf(d)).toHaveLength(1);
    expect(final!.body).toContain("**Question for a person:**");
  });

  it("a failed write of the final state is tried again after a backoff; a failed update while working waits for the next one", () => {
    const d = planned(10);
    const failure = { class: "transient" as const, reason: "server_error" as const, detail: "HTTP 502" };
    d.step({ type: "effect.failed", runId, at: t(40), key: progressOf(d)[0]!.key, failure, jitter: 0.5 });
    expect(progressOf(d)).toEqual([]);

    build(d, 50, "blocked", "sha1");
    const final = progressOf(d)[0]!;
    d.step({ type: "effect.failed", runId, at: t(51), key: final.key, failure, jitter: 0.5 });
    const again = progressOf(d);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ body: final.body, attempt: 2 });
    expect(Date.parse(again[0]!.notBefore!)).toBeGreaterThan(Date.parse(t(51)));
    expect(d.run!.phase).toBe("escalated");
  });

  it("a plan waiting for `/approve` is shown at once: a person has to act on it", () => {
    const d = planned(10, RepoConfigSchema.parse({ approval: { always: true } }));
    expect(d.run!.phase).toBe("awaiting_approval");
    expect(progressOf(d).map((e) => e.notBefore)).toEqual([undefined]);
    expect(progressOf(d)[0]!.body).toContain("`/approve`");
  });

  it("never replaces the update that creates the comment before its id is known: that would post a second comment", () => {
    const d = new Driver();
    d.step({ ...requested, at: t(0) });
    d.step({ type: "config.loaded", runId, at: t(0), key: d.pending("loadConfig").key, config: defaultRepoConfig, defaultBranch: "main" });
    const creating = d.pending("upsertProgressComment").key;
    const job = d.job("plan");
    d.step({ type: "job.succeeded", runId, at: t(2), key: job.key, jobId: job.job.jobId, output: { kind: "plan", plan, baseSha: "base0", usage: [] } });
    expect(progressOf(d).map((e) => [e.key, e.notBefore])).toEqual([
      [creating, undefined],
      [expect.any(String), t(32)],
    ]);
  });
});

/** Jobs wait until the test answers them, by kind. */
class HeldQueue implements JobQueue {
  readonly held = new Map<string, { job: Job; answer: (o: JobOutcome) => void }>();
  run(job: Job): Promise<JobOutcome> {
    return new Promise((answer) => this.held.set(job.kind === "review" ? `review:${job.reviewer}` : job.kind, { job, answer }));
  }
  answer(kind: string, outcome: (job: Job) => JobOutcome): void {
    const held = this.held.get(kind);
    if (!held) throw new Error(`no ${kind} job held; held: ${[...this.held.keys()].join(", ")}`);
    this.held.delete(kind);
    held.answer(outcome(held.job));
  }
  startedAt = () => undefined;
  cancel = () => false;
  size = () => this.held.size;
  close = async () => undefined;
  status = goneStatus;
  health = emptyHealth;
}

const commandsPassed = (job: Job) => (job.kind === "scrutiny" ? job.commands.map((c) => ({ ...c, exitCode: 0, ms: 5, timedOut: false, outputTail: "" })) : []);
const integrity = { deletedTests: [], newSkips: [], testCountBase: 1, testCountHead: 1, protectedTouched: [], conflicts: [] };
const usage = [{ provider: "openai", model: "gpt-5", inputTokens: 10, outputTokens: 2, cachedTokens: 0, costUsd: 0.001 }];
const review = (job: Job): JobOutcome => {
  if (job.kind !== "review") throw new Error(`not a review: ${job.kind}`);
  const review = { verdict: "approve" as const, summary: "fine", confidence: 0.9, findings: [], assertionChecks: [], reviewer: job.reviewer, route: job.route!, headSha: job.headSha, onDiff: [], usage, trace: [] };
  return { ok: true, output: { kind: "review", review } };
};

describe("the engine and the progress comment", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("writes a waiting update at its time, never holds the run's other writes behind it, and ends on the final state", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shopfloor-progress-"));
    dirs.push(dir);
    const github = new MemoryGitHub();
    const queue = new HeldQueue();
    const config = RepoConfigSchema.parse({ ci: { graceMinutes: 0 }, review: { reviewers: ["openai/gpt-5", "anthropic/claude-sonnet-4-5"] } });
    const effects: EffectContext = { octokitFor: async () => github.octokit(), queue, loadRepoConfig: async () => ({ ok: true, config }), traceExcerpt: async () => "" };
    const windowMs = 1_500;
    const engine = new Engine({ store: new FileRunStore(dir), effects, settings: { ...defaultMachineSettings, progressEveryMs: windowMs }, log: { info() {}, warn() {}, error() {} } });
    const writes = () => github.calls.map((c) => c.method).filter((m) => !/\.(get|list)/.test(m));
    const commentBodies = () => github.calls.filter((c) => c.method.endsWith("Comment")).map((c) => (c.params as { body: string }).body);
    const oneSubtask = { ...plan, subtasks: [plan.subtasks[0]!], contract: { assertions: [plan.contract.assertions[0]!] } };

    await engine.submit({ ...requested, at: new Date().toISOString() });
    await vi.waitFor(() => expect(queue.held.has("plan") && writes()).toEqual(["issues.createComment"]));

    // A long step: the update decided when the plan arrived is written once the window has passed.
    queue.answer("plan", () => ({ ok: true, output: { kind: "plan", plan: oneSubtask, baseSha: "base0", usage } }));
    await vi.waitFor(() => expect(queue.held.has("build")).toBe(true));
    expect(writes()).toEqual(["issues.createComment"]);
    await vi.waitFor(() => expect(writes()).toEqual(["issues.createComment", "issues.updateComment"]), { timeout: windowMs * 4 });
    expect(commentBodies()[1]).toContain("— running");

    // Quick steps: the PR and the reviews go out while the next update waits; that update is dropped for the final one.
    queue.answer("build", () => ({ ok: true, output: { kind: "build", result: result("sha1") } }));
    await vi.waitFor(() => expect(queue.held.has("scrutiny")).toBe(true));
    queue.answer("scrutiny", (job) => ({ ok: true, output: { kind: "scrutiny", commands: commandsPassed(job), integrity } }));
    await vi.waitFor(() => expect(queue.held.has("review:r1") && queue.held.has("review:r2")).toBe(true));
    queue.answer("review:r1", review);
    queue.answer("review:r2", review);
    const started = performance.now();
    await vi.waitFor(async () => expect((await new FileRunStore(dir).load(runId))?.phase).toBe("gated"));
    await engine.idle();
    // The dropped update stopped waiting: nothing held the engine for its window.
    expect(performance.now() - started).toBeLessThan(windowMs);
    expect(writes()).toEqual([
      "issues.createComment",
      "issues.updateComment",
      "pulls.create",
      "checks.create",
      "pulls.createReview",
      "pulls.createReview",
      "checks.update",
      "graphql",
      "issues.updateComment",
    ]);
    expect(commentBodies().at(-1)).toContain("**Gate:** `success`");
    engine.stop();
  });
});

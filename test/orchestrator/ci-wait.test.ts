import { describe, expect, it } from "vitest";
import { RepoConfigSchema, type CiCheck, type Effect, type Run } from "../../src/domain/index.js";
import { evaluateGate } from "../../src/orchestrator/gate.js";
import { ciRead } from "../../src/orchestrator/review-flow.js";
import { Step, defaultMachineSettings } from "../../src/orchestrator/step.js";
import { Driver, at, plan, requested, result, runId } from "./fixtures.js";

/**
 * CI as it really arrives: other apps create their suites and statuses seconds to minutes after a
 * push, so an empty read is "no CI" only after `ci.graceMinutes`; arrivals read at once.
 */

const minutes = (n: number) => new Date(Date.parse(at) + n * 60_000).toISOString();
const ciItem = "Repository CI green on the head commit";
const green: CiCheck = { name: "build", app: "github-actions", status: "completed", conclusion: "success", url: "https://ci/1", details: "" };
const running: CiCheck = { ...green, status: "in_progress", conclusion: null };

/** A run whose reviews approved: awaiting CI on sha2, the first readCi pending. */
function awaitingCi(ci: Record<string, unknown> = {}): Driver {
  const d = new Driver();
  d.step(requested);
  d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({ ci }), defaultBranch: "main" });
  d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
  d.answerJob("build", { kind: "build", result: result("sha1") });
  d.answerJob("build", { kind: "build", result: result("sha2") });
  d.scrutiny(0);
  d.step({ type: "pr.opened", runId, at, key: d.pending("openPullRequest").key, number: 12, url: "https://x/pull/12" });
  d.review("r1", "approve");
  d.review("r2", "approve");
  expect(d.run?.phase).toBe("awaiting_ci");
  return d;
}

/** Answer the pending readCi `which` (the grace read, or the immediate one) at `when`. */
function read(d: Driver, checks: CiCheck[], when: string, which: "grace" | "now" = "now"): Effect[] {
  const e = d.run!.pending.find((p) => p.kind === "readCi" && (which === "grace") === (p.graceSince !== undefined));
  if (!e) throw new Error(`no pending ${which} readCi; pending: ${d.run!.pending.map((p) => p.key).join(", ")}`);
  return d.step({ type: "ci.read", runId, at: when, key: e.key, checks });
}

const readCis = (run: Run) => run.pending.filter((e): e is Extract<Effect, { kind: "readCi" }> => e.kind === "readCi");
const ciRow = (run: Run) => evaluateGate(run).items.find((i) => i.item === ciItem);

describe("waiting for CI to appear", () => {
  it("does not pass the gate on an empty first read: it reads again when the grace ends", () => {
    const d = awaitingCi();
    const effects = read(d, [], minutes(0));
    expect(effects.some((e) => e.kind === "publishGate")).toBe(false);
    expect(d.run?.phase).toBe("awaiting_ci");
    expect(effects).toEqual([expect.objectContaining({ kind: "readCi", headSha: "sha2", graceSince: at, notBefore: minutes(5) })]);
    expect(ciRow(d.run!)).toEqual({ item: ciItem, state: "pending", evidence: `no check or commit status on this commit yet: waiting 5 min (ci.graceMinutes) for CI to appear, until ${minutes(5)}` });
  });

  it("concludes no CI only after the grace, and the gate says it waited and saw none", () => {
    const d = awaitingCi();
    read(d, [], minutes(0));
    const [gate] = read(d, [], minutes(5), "grace");
    expect(gate).toMatchObject({ kind: "publishGate", headSha: "sha2", conclusion: "success" });
    expect(ciRow(d.run!)).toEqual({
      item: ciItem,
      state: "pass",
      evidence: "no CI: waited 5 min (ci.graceMinutes) for other apps' checks or commit statuses on this commit and saw none",
    });
    expect(gate!.kind === "publishGate" && gate!.summary).toContain("waited 5 min (ci.graceMinutes) for other apps' checks or commit statuses on this commit and saw none");
  });

  it("waits for a check that appears within the grace, and concludes on its result", () => {
    const d = awaitingCi();
    read(d, [], minutes(0));
    // The grace read finds CI that appeared meanwhile, still running: nothing concludes.
    expect(read(d, [running], minutes(5), "grace")).toEqual([]);
    expect(d.run?.phase).toBe("awaiting_ci");
    expect(ciRow(d.run!)).toMatchObject({ state: "pending", evidence: "build: in_progress" });
    expect(d.step({ type: "ci.completed", runId, at: minutes(9), headSha: "sha2" }).map((e) => e.kind)).toEqual(["readCi"]);
    const [gate] = read(d, [green], minutes(9));
    expect(gate).toMatchObject({ kind: "publishGate", conclusion: "success" });
    expect(ciRow(d.run!)).toEqual({ item: ciItem, state: "pass", evidence: "build: success" });
  });

  it("reads at once when CI arrives during the grace, without waiting for its end", () => {
    const d = awaitingCi();
    read(d, [], minutes(0));
    const arrival = d.step({ type: "ci.completed", runId, at: minutes(1), headSha: "sha2" });
    expect(arrival).toEqual([expect.objectContaining({ kind: "readCi", headSha: "sha2" })]);
    expect(arrival[0]!.notBefore).toBeUndefined();
    // A second arrival while that read is under way does not read twice.
    expect(d.step({ type: "ci.completed", runId, at: minutes(1), headSha: "sha2" })).toEqual([]);
    // The early read sees the CI running: the grace read is no longer what the run waits for.
    expect(read(d, [running], minutes(1))).toEqual([]);
    expect(readCis(d.run!)).toEqual([]);
    d.step({ type: "ci.completed", runId, at: minutes(3), headSha: "sha2" });
    const [gate] = read(d, [green], minutes(3));
    expect(gate).toMatchObject({ kind: "publishGate", conclusion: "success" });
  });

  it("keeps waiting when an early read still sees nothing: the grace read stays due", () => {
    const d = awaitingCi();
    read(d, [], minutes(0));
    d.step({ type: "ci.completed", runId, at: minutes(2), headSha: "sha2" });
    expect(read(d, [], minutes(2))).toEqual([]);
    expect(readCis(d.run!)).toEqual([expect.objectContaining({ graceSince: at, notBefore: minutes(5) })]);
    expect(ciRow(d.run!)).toMatchObject({ state: "pending" });
  });

  it("passes at once with no CI when the repository sets no grace", () => {
    const d = awaitingCi({ graceMinutes: 0 });
    const [gate] = read(d, [], minutes(0));
    expect(gate).toMatchObject({ kind: "publishGate", conclusion: "success" });
    expect(ciRow(d.run!)).toEqual({
      item: ciItem,
      state: "pass",
      evidence: "no CI: no other app's check or commit status on this commit (ci.graceMinutes is 0: not waited for)",
    });
  });
});

describe("legacy commit statuses", () => {
  const jenkins: CiCheck = { name: "ci/jenkins", app: "commit-status", status: "completed", conclusion: "failure", url: "https://jenkins.example/job/1", details: "Build failed: 3 tests" };

  it("a red status fails CI and starts the CI fix with the status in the brief", () => {
    const d = awaitingCi();
    read(d, [green, jenkins], minutes(0));
    expect(d.run?.phase).toBe("building");
    expect(d.run?.ciFixes).toBe(1);
    const fix = d.job("build").job;
    expect(fix.kind === "build" && fix.subtask.id).toBe("ci-fix-1");
    expect(fix.kind === "build" && fix.subtask.brief).toContain("- ci/jenkins (commit-status): failure — https://jenkins.example/job/1\nBuild failed: 3 tests");
    expect(evaluateGate(d.run!).items.find((i) => i.item === ciItem)).toMatchObject({ state: "fail", evidence: "ci/jenkins: failure" });
  });

  it("a pending status is waited for like a running check", () => {
    const d = awaitingCi();
    expect(read(d, [green, { ...jenkins, status: "in_progress", conclusion: null }], minutes(0))).toEqual([]);
    expect(d.run?.phase).toBe("awaiting_ci");
    expect(ciRow(d.run!)).toMatchObject({ state: "pending", evidence: "ci/jenkins: in_progress" });
  });
});

describe("a read of an older head", () => {
  it("changes nothing: a late grace read of the previous head does not conclude the new one", () => {
    const d = awaitingCi();
    const step = new Step(d.run!, defaultMachineSettings, minutes(6));
    ciRead(step, [], { kind: "readCi", key: `${runId}:readCi:99`, headSha: "sha1", graceSince: at });
    expect(step.effects).toEqual([]);
    expect(step.run.ci).toBeUndefined();
  });
});


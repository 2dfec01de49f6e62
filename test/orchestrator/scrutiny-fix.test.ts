import { describe, expect, it } from "vitest";
import { RepoConfigSchema, type Effect, type Event } from "../../src/domain/index.js";
import { Driver, at, cleanIntegrity, plan, requested, result, runId } from "./fixtures.js";

const failingTest = (d: Driver) =>
  d.answerJob("scrutiny", {
    kind: "scrutiny",
    commands: [{ name: "test", cmd: "npm test", exitCode: 1, ms: 900, timedOut: false, outputTail: "AssertionError: expected 'Bye Ann' to be 'Goodbye, Ann!'" }],
    integrity: cleanIntegrity,
  });
const dispatched = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { kind: "dispatchJob" }> => e.kind === "dispatchJob");

function toScrutiny(config = {}): Driver {
  const d = new Driver();
  d.step(requested);
  d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse(config), defaultBranch: "main" });
  d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
  d.answerJob("build", { kind: "build", result: result("sha1") });
  d.answerJob("build", { kind: "build", result: result("sha2") });
  return d;
}

describe("a failing scrutiny is worked on before the gate concludes", () => {
  it("dispatches a generator with the failing command's output in its brief, then scrutiny again", () => {
    const d = toScrutiny();
    const effects = failingTest(d);
    expect(d.run!.phase).toBe("building");
    const [fix] = dispatched(effects);
    expect(fix?.job.kind).toBe("build");
    if (fix?.job.kind !== "build") return;
    expect(fix.job.subtask.role).toBe("generate");
    expect(fix.job.subtask.brief).toContain("npm test");
    expect(fix.job.subtask.brief).toContain("expected 'Bye Ann' to be 'Goodbye, Ann!'");
    expect(fix.job.fromSha).toBe("sha2");
    // No PR yet: nothing was opened for a change whose tests fail.
    expect(effects.map((e) => e.kind)).not.toContain("openPullRequest");
    const next = d.answerJob("build", { kind: "build", result: result("sha3") });
    const again = dispatched(next);
    expect(again.map((e) => e.job.kind)).toEqual(["scrutiny"]);
    expect(again[0]!.job.kind === "scrutiny" && again[0]!.job.headSha).toBe("sha3");
    d.scrutiny(0);
    expect(d.run!.pending.map((e) => e.kind)).toContain("openPullRequest");
  });

  it("stops after commands.fixAttempts and lets the gate conclude failure with the reviews", () => {
    const d = toScrutiny({ commands: { fixAttempts: 1 } });
    failingTest(d);
    d.answerJob("build", { kind: "build", result: result("sha3") });
    const effects = failingTest(d);
    expect(dispatched(effects)).toEqual([]);
    expect(effects.map((e) => e.kind)).toContain("openPullRequest");
    expect(d.run!.phase).toBe("publishing");
  });

  it("with fixAttempts 0 behaves as before: straight to the PR", () => {
    const d = toScrutiny({ commands: { fixAttempts: 0 } });
    expect(failingTest(d).map((e) => e.kind)).toContain("openPullRequest");
  });
});

describe("a person's retry on a failed gate", () => {
  it("starts a new build generation with the gate's failure in the brief, not another review of the same code", () => {
    const d = toScrutiny({ commands: { fixAttempts: 0 } });
    failingTest(d);
    d.step({ type: "pr.opened", runId, at, key: d.pending("openPullRequest").key, number: 12, url: "https://x/pull/12" });
    d.review("r1", "approve");
    d.review("r2", "approve");
    const [gate] = d.ci([{ name: "build", app: "github-actions", status: "completed", conclusion: "success", url: "", details: "" }]);
    expect(gate).toMatchObject({ kind: "publishGate", conclusion: "failure" });
    d.step({ type: "gate.published", runId, at, key: gate!.key, checkRunId: 5 });
    expect(d.run!.phase).toBe("gated");

    const retry: Event = { type: "command.received", runId, at, command: "retry", note: "the greeting must say Goodbye", by: "writer", source: "button" };
    const effects = d.step(retry);
    const jobs = dispatched(effects);
    expect(jobs.map((j) => j.job.kind)).toEqual(["build"]);
    const job = jobs[0]!.job;
    if (job.kind !== "build") return;
    expect(job.jobId).toContain(":g1a1");
    expect(job.subtask.brief).toContain("npm test");
    expect(job.reflection).toContain("the greeting must say Goodbye");
    expect(d.run!.phase).toBe("building");
  });
});

import { describe, expect, it } from "vitest";
import { RepoConfigSchema, type Effect, type Event } from "../../src/domain/index.js";
import { Driver, at, plan, requested, result, runId } from "./fixtures.js";

const command = (name: "cancel" | "escalate" | "retry" | "approve", note = ""): Event => ({
  type: "command.received",
  runId,
  at,
  command: name,
  note,
  by: "writer",
  source: "comment",
  issueNumber: 7,
});
const stops = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { kind: "stopJobs" }> => e.kind === "stopJobs");
const builds = (d: Driver) => d.run!.pending.filter((e) => e.kind === "dispatchJob" && e.job.kind === "build");

/** The first subtask is being built: its job is in flight. */
function building(): { d: Driver; job: Extract<Effect, { kind: "dispatchJob" }> } {
  const d = new Driver();
  d.step(requested);
  d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({}), defaultBranch: "main" });
  d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
  return { d, job: d.job("build") };
}

describe("a stop reaches the running job", () => {
  for (const [what, event] of [
    ["/cancel", command("cancel")],
    ["/escalate", command("escalate", "I'll take it")],
    ["closing the PR", { type: "pr.closed", runId, at, merged: false, by: "writer" } as Event],
    ["removing the label", { type: "trigger.removed", runId, at, by: "writer" } as Event],
    ["a person's force-push", { type: "branch.pushed", runId, at, headSha: "theirs", by: "writer", forced: true } as Event],
  ] as const) {
    it(`${what} stops the build job in flight, and its late answer changes nothing but the spend`, () => {
      const { d, job } = building();
      const effects = d.step(event);
      expect(stops(effects)).toEqual([expect.objectContaining({ jobIds: [job.job.jobId] })]);
      expect(builds(d)).toEqual([]);
      const phase = d.run!.phase;
      const spentBefore = d.run!.usage.length;
      const late = d.step({ type: "job.succeeded", runId, at, key: job.key, jobId: job.job.jobId, output: { kind: "build", result: result("late1") } });
      expect(late).toEqual([]);
      expect(d.run!.phase).toBe(phase);
      expect(d.run!.headSha).not.toBe("late1");
      expect(d.run!.usage.length).toBe(spentBefore + 1);
      expect(d.run!.usage.at(-1)!.role).toBe("late");
    });
  }
});

describe("after /escalate, /retry runs one writer", () => {
  it("the old generation's answer arriving after /retry is ignored: only the new generation builds", () => {
    const { d, job: old } = building();
    d.step(command("escalate"));
    d.step(command("retry"));
    const fresh = builds(d);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.key).not.toBe(old.key);
    // The old job finishes now: nothing is dispatched because of it, nothing is recorded as built.
    const effects = d.step({ type: "job.succeeded", runId, at, key: old.key, jobId: old.job.jobId, output: { kind: "build", result: result("old-gen") } });
    expect(effects.filter((e) => e.kind === "dispatchJob")).toEqual([]);
    expect(builds(d)).toHaveLength(1);
    expect(d.run!.subtasks.impl!.status).toBe("running");
    expect(d.run!.headSha).not.toBe("old-gen");
  });

  it("/retry of a plan that waits for /approve still waits for it", () => {
    const d = new Driver();
    d.step(requested);
    d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({}), defaultBranch: "main" });
    d.answerJob("plan", { kind: "plan", plan: { ...plan, risk: "high" }, baseSha: "base0", usage: [] });
    expect(d.run!.phase).toBe("awaiting_approval");
    d.step(command("escalate"));
    d.step(command("retry"));
    expect(d.run!.phase).toBe("awaiting_approval");
    expect(builds(d)).toEqual([]);
    d.step(command("approve"));
    expect(d.run!.phase).toBe("building");
    expect(builds(d)).toHaveLength(1);
  });

  it("a PR opened after a cancel is recorded but not reviewed", () => {
    const d = new Driver();
    d.toScrutiny();
    d.scrutiny(0);
    const open = d.pending("openPullRequest");
    d.step(command("cancel"));
    const effects = d.step({ type: "pr.opened", runId, at, key: open.key, number: 12, url: "https://x/pull/12" });
    expect(d.run!.pr?.number).toBe(12);
    expect(effects.filter((e) => e.kind === "dispatchJob")).toEqual([]);
    expect(d.run!.phase).toBe("cancelled");
  });
});

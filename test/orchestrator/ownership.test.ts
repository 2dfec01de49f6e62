import { describe, expect, it } from "vitest";
import { RepoConfigSchema, type Event } from "../../src/domain/index.js";
import { Driver, at, plan, requested, result, runId } from "./fixtures.js";

const push = (headSha: string, extra: Partial<Extract<Event, { type: "branch.pushed" }>> = {}): Event => ({
  type: "branch.pushed",
  runId,
  at,
  headSha,
  by: "someone",
  branch: "shopfloor/7-add-a-farewell-helper",
  ...extra,
});

function building(): Driver {
  const d = new Driver();
  d.step(requested);
  d.step({ type: "config.loaded", runId, at, key: d.pending("loadConfig").key, config: RepoConfigSchema.parse({}), defaultBranch: "main" });
  d.answerJob("plan", { kind: "plan", plan, baseSha: "base0", usage: [] });
  return d;
}

describe("foreign pushes are told by commit, not by committer email", () => {
  it("a push whose tip Shopfloor pushed is its own, even when its webhook arrives late", () => {
    const d = building();
    d.answerJob("build", { kind: "build", result: result("sha1") });
    d.answerJob("build", { kind: "build", result: result("sha2") });
    // The webhook of the first push arrives after the second was recorded.
    expect(d.step(push("sha1"))).toEqual([]);
    expect(d.run!.phase).toBe("scrutiny");
  });

  it("a push that arrives while the build that made it is still answering waits for the answer, then is its own", () => {
    const d = building();
    expect(d.step(push("sha1"))).toEqual([]);
    expect(d.run!.phase).toBe("building");
    d.answerJob("build", { kind: "build", result: result("sha1") });
    expect(d.run!.phase).toBe("building");
    expect(d.run!.unexplainedPush).toBeUndefined();
  });

  it("a push during a build that the build does not explain pauses the run when the build answers", () => {
    const d = building();
    d.step(push("theirs", { by: "mallory" }));
    d.answerJob("build", { kind: "build", result: result("sha1") });
    expect(d.run!.phase).toBe("paused");
    expect(d.run!.headSha).toBe("theirs");
    expect(d.run!.pending.filter((e) => e.kind === "dispatchJob")).toEqual([]);
  });

  it("a forged committer email does not make a person's commit Shopfloor's", () => {
    const d = building();
    d.answerJob("build", { kind: "build", result: result("sha1") });
    d.answerJob("build", { kind: "build", result: result("sha2") });
    // Scrutiny runs: no writer is in flight, so the push is decided at once.
    d.step(push("forged", { by: "mallory" }));
    expect(d.run!.phase).toBe("paused");
  });

  it("a force-push back to an older Shopfloor commit is a person's", () => {
    const d = building();
    d.answerJob("build", { kind: "build", result: result("sha1") });
    d.answerJob("build", { kind: "build", result: result("sha2") });
    d.step(push("sha1", { forced: true, by: "mallory" }));
    expect(d.run!.phase).toBe("paused");
    expect(d.run!.headSha).toBe("sha1");
  });

  it("a push to another branch of the same issue (an earlier run's) is not this run's concern", () => {
    const d = building();
    expect(d.step(push("x", { branch: "shopfloor/7-something-else" }))).toEqual([]);
    expect(d.run!.phase).toBe("building");
  });
});

describe("a relabelled issue starts a fresh run that owns its own PR", () => {
  function closedRun(): Driver {
    const d = new Driver();
    d.toReview(0);
    d.step({ type: "pr.closed", runId, at, merged: false, by: "writer", number: 12 });
    expect(d.run!.phase).toBe("cancelled");
    return d;
  }

  it("gets a new branch name, so the old PR is never adopted", () => {
    const d = closedRun();
    const first = d.run!.branch;
    d.step({ ...requested, deliveryId: "d-2", delivery: "d-2" });
    expect(d.run!.phase).toBe("configuring");
    expect(d.run!.branch).not.toBe(first);
    expect(d.run!.branch.startsWith("shopfloor/7-")).toBe(true);
    expect(d.run!.pr).toBeUndefined();
  });

  it("ignores the close of the earlier run's PR", () => {
    const d = closedRun();
    d.step({ ...requested, deliveryId: "d-2", delivery: "d-2" });
    const note = d.step({ type: "pr.closed", runId, at, merged: false, by: "writer", number: 12 });
    expect(note).toEqual([]);
    expect(d.run!.phase).toBe("configuring");
  });
});

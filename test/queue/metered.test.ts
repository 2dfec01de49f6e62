import { describe, expect, it, vi } from "vitest";
import type { Job, JobOutcome, Usage } from "../../src/domain/index.js";
import { LocalJobQueue } from "../../src/queue/local.js";
import { jobRole, jobVerdict, meteredQueue, outcomeUsage, type JobAnswer } from "../../src/queue/metered.js";
import { deferred, planJob, planned } from "./bull-kit.js";

const sonnet: Usage = { provider: "anthropic", model: "claude-sonnet-4-5", inputTokens: 1200, outputTokens: 300, cachedTokens: 0, costUsd: 0.0081 };

function buildJob(jobId: string, role: "generate" | "test"): Job {
  const plan = planned("p");
  if (!plan.ok || plan.output.kind !== "plan") throw new Error("fixture");
  return {
    kind: "build",
    jobId,
    runId: "octo/app#7",
    repo: { owner: "octo", name: "app", installationId: 42 },
    attempt: 1,
    fromSha: "base0",
    baseSha: "base0",
    branch: "shopfloor/7-farewell",
    integrate: false,
    allowedCommands: [],
    setup: { allow: [] },
    subtask: { id: "impl", role, title: "Implement", brief: "Write it", files: ["a.js"], dependsOn: [], assertions: ["A1"] },
    plan: plan.output.plan,
    issue: { number: 7, title: "Add farewell()" },
  };
}

function built(status: "ok" | "blocked" | "failed", usage: Usage[]): JobOutcome {
  return {
    ok: true,
    output: {
      kind: "build",
      result: {
        status,
        confidence: 0.9,
        summary: "did it",
        handoff: { completed: [], remaining: [], commands: [], issues: [], followedProcedure: true },
        artifact: { kind: "diff", headSha: "head1", diffStat: "1 file", filesChanged: ["a.js"] },
        usage,
        trace: [],
      },
    },
  };
}

/** A clock the test moves by hand, so wall times are exact. */
function handClock() {
  let at = 0;
  return { now: () => at, set: (ms: number) => void (at = ms) };
}

describe("meteredQueue", () => {
  it("reports each job's wall time from submission to answer, waiting for a runner included", async () => {
    const clock = handClock();
    const releases = new Map([["a", deferred()], ["b", deferred()]]);
    const inner = new LocalJobQueue(async (job) => (await releases.get(job.jobId)!.promise, planned(job.jobId)), { concurrency: 1, maxQueued: 5 });
    const answers: JobAnswer[] = [];
    const q = meteredQueue(inner, (answer) => answers.push(answer), clock.now);

    const a = q.run(planJob("a"));
    const b = q.run(planJob("b"));
    await vi.waitFor(() => expect(q.startedAt("a")).toBeTypeOf("number"));
    expect(await q.status("b")).toEqual({ state: "waiting" });
    expect((await q.health()).waiting).toBe(1);
    clock.set(1_500);
    releases.get("a")!.resolve();
    expect(await a).toEqual(planned("a"));
    clock.set(4_000);
    releases.get("b")!.resolve();
    expect(await b).toEqual(planned("b"));

    expect(answers.map(({ job, outcome, ms }) => [job.jobId, outcome, ms])).toEqual([
      ["a", planned("a"), 1_500],
      ["b", planned("b"), 4_000],
    ]);
  });

  it("reports a job sent twice while in flight once, and both senders get its outcome", async () => {
    const release = deferred();
    let runs = 0;
    const inner = new LocalJobQueue(async () => (runs++, await release.promise, planned("once")), { concurrency: 2, maxQueued: 5 });
    const answers: JobAnswer[] = [];
    const q = meteredQueue(inner, (answer) => answers.push(answer));
    const first = q.run(planJob("same"));
    const second = q.run(planJob("same"));
    release.resolve();
    expect(await Promise.all([first, second])).toEqual([planned("once"), planned("once")]);
    expect(runs).toBe(1);
    expect(answers).toHaveLength(1);
    // Once answered, the same id sent again is a new submission, reported again.
    await q.run(planJob("same"));
    expect(answers).toHaveLength(2);
  });

  it("never lets a listener that throws break a job or the jobs after it", async () => {
    const inner = new LocalJobQueue(async (job) => planned(job.jobId), { concurrency: 1, maxQueued: 5 });
    let calls = 0;
    const q = meteredQueue(inner, () => {
      calls++;
      throw new Error("listener bug");
    });
    expect(await q.run(planJob("x"))).toEqual(planned("x"));
    expect(await q.run(planJob("y"))).toEqual(planned("y"));
    expect(calls).toBe(2);
  });

  it("reports a cancelled job with the failure its runner answered, and keeps the queue's own cancel", async () => {
    const inner = new LocalJobQueue(
      (_job, signal) =>
        new Promise<JobOutcome>((resolve) =>
          signal.addEventListener("abort", () => resolve({ ok: false, failure: { class: "transient", reason: "worker_lost", detail: String(signal.reason) }, usage: [sonnet] })),
        ),
      { concurrency: 1, maxQueued: 5 },
    );
    const answers: JobAnswer[] = [];
    const q = meteredQueue(inner, (answer) => answers.push(answer));
    const outcome = q.run(buildJob("c", "generate"));
    await vi.waitFor(() => expect(q.startedAt("c")).toBeTypeOf("number"));
    expect(q.size()).toBe(1);
    expect(q.cancel("c", "cancelled by /cancel")).toBe(true);
    expect(await outcome).toMatchObject({ ok: false, failure: { reason: "worker_lost" } });
    expect(answers.map((a) => [jobRole(a.job), jobVerdict(a.outcome), outcomeUsage(a.outcome)])).toEqual([["generate", "transient", [sonnet]]]);
    await q.close();
  });
});

describe("what an answer says for the metrics", () => {
  it("names the role the engine charges spend to, and the outcome in words a graph can split on", () => {
    const review = { ...planJob("r"), kind: "review", baseSha: "b", headSha: "h", reviewer: "r1", round: 1, priorFindings: [] } as unknown as Job;
    const scrutiny = { ...planJob("s"), kind: "scrutiny", headSha: "h", commands: [], setup: { allow: [] }, detectTest: false, protectedPaths: [] } as unknown as Job;
    expect([planJob("p"), buildJob("g", "generate"), buildJob("t", "test"), review, scrutiny].map(jobRole)).toEqual([
      "planner",
      "generate",
      "test",
      "reviewer",
      "scrutiny",
    ]);
    expect(jobVerdict(planned("p"))).toBe("ok");
    expect(jobVerdict(built("ok", []))).toBe("ok");
    expect(jobVerdict(built("blocked", []))).toBe("blocked");
    expect(jobVerdict(built("failed", []))).toBe("failed");
    expect(jobVerdict({ ok: false, failure: { class: "permanent", reason: "budget_exhausted", detail: "cap" }, usage: [] })).toBe("permanent");
    expect(outcomeUsage(built("ok", [sonnet, sonnet]))).toEqual([sonnet, sonnet]);
    expect(outcomeUsage(planned("p"))).toEqual([]);
  });
});

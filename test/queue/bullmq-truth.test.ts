import { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import type { JobOutcome } from "../../src/domain/index.js";
import { toBullId } from "../../src/queue/bullmq.js";
import { bullKit, deferred, planJob, planned } from "./bull-kit.js";

const { names, track } = bullKit();

describe("BullJobQueue.status: what the queue knows of a job", () => {
  it("follows a job from waiting to running to done, with its kept outcome", async () => {
    const { queue, runner } = names();
    const q = queue();
    const outcome = q.run(planJob("s-1"));
    await vi.waitFor(async () => expect(await q.status("s-1")).toEqual({ state: "waiting" }), { timeout: 5_000 });
    const release = deferred();
    const taken = deferred();
    runner(async () => {
      taken.resolve();
      await release.promise;
      return planned("kept");
    });
    await taken.promise;
    expect(await q.status("s-1")).toEqual({ state: "running" });
    release.resolve();
    await outcome;
    // Another node, started later, reads the same answer from Redis.
    expect(await queue().status("s-1")).toEqual({ state: "done", outcome: planned("kept") });
  });

  it("answers gone for a job never sent and for one BullMQ gave up on", async () => {
    const { queue, runner } = names();
    const q = queue();
    expect(await q.status("never-sent")).toEqual({ state: "gone" });
    const taken = deferred();
    const dying = runner(
      async () => {
        taken.resolve();
        return new Promise<JobOutcome>(() => undefined);
      },
      { maxStalledCount: 0 },
    );
    const outcome = q.run(planJob("s-2"));
    await taken.promise;
    await dying.worker.close(true);
    runner(async () => planned("never"), { maxStalledCount: 0 });
    expect(await outcome).toMatchObject({ ok: false, failure: { reason: "worker_lost" } });
    expect(await q.status("s-2")).toEqual({ state: "gone" });
  });

  it("re-attaches a restarted node to a running job: no second copy, the same answer", async () => {
    const { queue, runner } = names();
    const starts: string[] = [];
    const release = deferred();
    const taken = deferred();
    runner(async (job) => {
      starts.push(job.jobId);
      taken.resolve();
      await release.promise;
      return planned("one copy");
    });
    const first = queue();
    void first.run(planJob("s-3"));
    await taken.promise;
    await first.close();
    const second = queue();
    const outcome = second.run(planJob("s-3"));
    await vi.waitFor(() => expect(second.startedAt("s-3")).toBeTypeOf("number"), { timeout: 5_000 });
    release.resolve();
    expect(await outcome).toEqual(planned("one copy"));
    expect(starts).toEqual(["s-3"]);
  });
});

describe("a runner that loses its queue lock", () => {
  it("aborts its handler before the job starts again anywhere", async () => {
    const { queue, runner, queueName, connection } = names();
    const order: string[] = [];
    const taken = deferred();
    // Renewal every ~100 ms; stall checks every 1.5 s.
    const lease = { lockDurationMs: 400, stalledIntervalMs: 1_500 };
    const handler = (name: string) => (_job: unknown, signal: AbortSignal) =>
      new Promise<JobOutcome>((resolve) => {
        order.push(`${name} started`);
        if (order.length > 1) return resolve(planned("the second start"));
        taken.resolve();
        signal.addEventListener("abort", () => {
          order.push(`${name} aborted: ${String(signal.reason)}`);
          resolve({ ok: false, failure: { class: "transient", reason: "worker_lost", detail: "stopped" }, usage: [] });
        });
      });
    runner(handler("first"), { ...lease, name: "first" });
    const q = queue();
    const outcome = q.run(planJob("s-4"));
    await taken.promise;
    runner(handler("second"), { ...lease, name: "second" });
    // The lock vanishes as it does when it expires during a pause of the runner's process.
    const redis = new Redis(connection.url);
    track({ close: async () => redis.disconnect() });
    expect(await redis.del(`bull:${queueName}:${toBullId("s-4")}:lock`)).toBe(1);
    expect(await outcome).toEqual(planned("the second start"));
    expect(order).toHaveLength(3);
    expect(order.slice(0, 2)).toEqual(["first started", "first aborted: runner first lost the queue lock of this job"]);
    expect(order[2]).toMatch(/^(first|second) started$/);
  });
});

describe("queue health from Redis", () => {
  it("counts waiting jobs, running jobs per runner (idle runners too) and the oldest wait", async () => {
    const { queue, runner } = names();
    const release = deferred();
    const hold = async () => {
      await release.promise;
      return planned("held");
    };
    runner(hold, { name: "alpha", concurrency: 1 });
    runner(hold, { name: "beta", concurrency: 2 });
    const q = queue();
    const answers = ["o/a#1:plan:1", "o/a#2:plan:1", "o/a#3:plan:1"].map((id) => q.run(planJob(id)));
    await vi.waitFor(async () => expect((await q.health()).activeByRunner).toEqual({ alpha: 1, beta: 2 }), { timeout: 5_000 });
    // Which runner took which job is BullMQ's choice; each running job is named once, on its runner.
    const running = (await q.health()).jobsByRunner;
    expect([running.alpha?.length, running.beta?.length]).toEqual([1, 2]);
    expect(Object.values(running).flat().sort()).toEqual(["o/a#1:plan:1", "o/a#2:plan:1", "o/a#3:plan:1"]);
    const before = Date.now();
    answers.push(q.run(planJob("h-4")), q.run(planJob("h-5")));
    await vi.waitFor(async () => expect((await q.health()).waiting).toBe(2), { timeout: 5_000 });
    await new Promise((r) => setTimeout(r, 300));
    const health = await q.health();
    const after = Date.now();
    expect(health.oldestWaitingMs).toBeGreaterThanOrEqual(250);
    expect(health.oldestWaitingMs).toBeLessThanOrEqual(after - before + 50);
    runner(hold, { name: "gamma", concurrency: 1 });
    await vi.waitFor(async () => expect((await q.health()).activeByRunner).toEqual({ alpha: 1, beta: 2, gamma: 1 }), { timeout: 5_000 });
    release.resolve();
    await Promise.all(answers);
    expect(await q.health()).toEqual({
      waiting: 0,
      oldestWaitingMs: undefined,
      activeByRunner: { alpha: 0, beta: 0, gamma: 0 },
      jobsByRunner: { alpha: [], beta: [], gamma: [] },
    });
  });
});

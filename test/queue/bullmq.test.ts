import { describe, expect, it, vi } from "vitest";
import type { Job, JobOutcome } from "../../src/domain/index.js";
import { bullKit, deferred, planJob, planned } from "./bull-kit.js";

const { names } = bullKit();

describe("BullJobQueue with a runner from startRunner", () => {
  it("runs a job end to end and answers its outcome, with the time it started", async () => {
    const { queue, runner } = names();
    const release = deferred();
    const seen: Job[] = [];
    runner(async (job) => {
      seen.push(job);
      await release.promise;
      return planned(`plan for #${job.kind === "plan" ? job.issue.number : 0}`);
    });
    const q = queue();
    const before = Date.now();
    const outcome = q.run(planJob("plan-1"));
    expect(q.size()).toBe(1);
    await vi.waitFor(() => expect(q.startedAt("plan-1")).toBeGreaterThanOrEqual(before - 1000), { timeout: 5_000 });
    release.resolve();
    expect(await outcome).toEqual(planned("plan for #7"));
    expect(seen).toEqual([planJob("plan-1")]);
    expect(q.size()).toBe(0);
    expect(q.startedAt("plan-1")).toBeUndefined();
  });

  it("runs a job sent twice, by two orchestrator nodes and again later, only once", async () => {
    const { queue, runner } = names();
    const handler = vi.fn(async () => planned("once"));
    runner(handler);
    const a = queue();
    const b = queue();
    const outcomes = await Promise.all([a.run(planJob("plan-2")), b.run(planJob("plan-2")), a.run(planJob("plan-2"))]);
    expect(outcomes).toEqual([planned("once"), planned("once"), planned("once")]);
    expect(await b.run(planJob("plan-2"))).toEqual(planned("once"));
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("answers a handler's thrown error as a typed failure", async () => {
    const { queue, runner } = names();
    runner(async () => {
      throw Object.assign(new Error("upstream 503"), { status: 503 });
    });
    const outcome = await queue().run(planJob("plan-3"));
    expect(outcome).toMatchObject({ ok: false, failure: { class: "transient" } });
  });

  it("aborts the runner's signal when the job is cancelled", async () => {
    const { queue, runner } = names();
    runner(
      (_job, signal) =>
        new Promise((resolve) =>
          signal.addEventListener("abort", () =>
            resolve({ ok: false, failure: { class: "permanent", reason: "blocked", detail: String(signal.reason) }, usage: [] }),
          ),
        ),
    );
    const q = queue();
    const outcome = q.run(planJob("plan-4"));
    await vi.waitFor(() => expect(q.startedAt("plan-4")).toBeTypeOf("number"), { timeout: 5_000 });
    expect(q.cancel("plan-4", "person said /cancel")).toBe(true);
    expect(await outcome).toMatchObject({ ok: false, failure: { reason: "blocked" } });
    expect(q.cancel("plan-4", "again")).toBe(false);
  });

  it("gives a dead runner's job to another runner (stalled, then retried)", async () => {
    const { queue, runner } = names();
    const taken = deferred();
    const dying = runner(async () => {
      taken.resolve();
      return new Promise<JobOutcome>(() => undefined);
    });
    const q = queue();
    const outcome = q.run(planJob("plan-5"));
    await taken.promise;
    // The runner dies holding the job: no completion, no lock renewal.
    await dying.worker.close(true);
    const survivor = vi.fn(async () => planned("after a stall"));
    runner(survivor);
    expect(await outcome).toEqual(planned("after a stall"));
    expect(survivor).toHaveBeenCalledTimes(1);
  });

  it("answers transient worker_lost when a job stalls past the allowed count", async () => {
    const { queue, runner } = names();
    const taken = deferred();
    const dying = runner(
      async () => {
        taken.resolve();
        return new Promise<JobOutcome>(() => undefined);
      },
      { maxStalledCount: 0 },
    );
    const q = queue();
    const outcome = q.run(planJob("plan-6"));
    await taken.promise;
    await dying.worker.close(true);
    const survivor = vi.fn(async () => planned("never"));
    runner(survivor, { maxStalledCount: 0 });
    expect(await outcome).toMatchObject({ ok: false, failure: { class: "transient", reason: "worker_lost", detail: expect.stringMatching(/stalled/) }, usage: [] });
    expect(survivor).not.toHaveBeenCalled();
  });
});

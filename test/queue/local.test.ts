import { describe, expect, it, vi } from "vitest";
import type { JobOutcome } from "../../src/domain/index.js";
import { LocalJobQueue } from "../../src/queue/local.js";
import { deferred, planJob, planned } from "./bull-kit.js";

describe("LocalJobQueue: status and health of the embedded pool", () => {
  it("knows its own jobs as running or waiting, and any other as gone (lost with an earlier process)", async () => {
    const release = deferred();
    const q = new LocalJobQueue(async (): Promise<JobOutcome> => (await release.promise, planned("local")), { concurrency: 1, maxQueued: 10 });
    const answers = [q.run(planJob("l-1")), q.run(planJob("l-2"))];
    await vi.waitFor(() => expect(q.startedAt("l-1")).toBeTypeOf("number"));
    expect(await q.status("l-1")).toEqual({ state: "running" });
    expect(await q.status("l-2")).toEqual({ state: "waiting" });
    expect(await q.status("from-before-a-restart")).toEqual({ state: "gone" });
    const health = await q.health();
    expect(health.waiting).toBe(1);
    expect(health.oldestWaitingMs).toBeGreaterThanOrEqual(0);
    expect(Object.values(health.activeByRunner)).toEqual([1]);
    // The job running names itself; the one waiting is on no runner yet.
    expect(Object.values(health.jobsByRunner)).toEqual([["l-1"]]);
    release.resolve();
    await Promise.all(answers);
    expect(await q.status("l-1")).toEqual({ state: "gone" });
    expect(await q.health()).toMatchObject({ waiting: 0, oldestWaitingMs: undefined });
    expect(Object.values((await q.health()).jobsByRunner)).toEqual([[]]);
  });

  it("names its runner SHOPFLOOR_RUNNER_NAME when set", async () => {
    vi.stubEnv("SHOPFLOOR_RUNNER_NAME", "embedded one");
    try {
      const q = new LocalJobQueue(async () => planned("x"), { concurrency: 1, maxQueued: 1 });
      expect(await q.health()).toMatchObject({ activeByRunner: { "embedded-one": 0 }, jobsByRunner: { "embedded-one": [] } });
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

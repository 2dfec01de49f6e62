import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Engine } from "../../src/orchestrator/engine.js";
import type { EffectContext } from "../../src/orchestrator/effects/index.js";
import { defaultMachineSettings } from "../../src/orchestrator/machine.js";
import { Monitor } from "../../src/orchestrator/monitor.js";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import { FileRunStore } from "../../src/store/file.js";
import { api, fenceGitHub, testOctokit } from "../github/kit.js";
import { countingLoads, historyRun, idleQueue, quietLog } from "./history-kit.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "shopfloor-history-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A store holding `finished` done runs (PR merged) besides the given ones. */
async function storeWith(finished: number, others: ReturnType<typeof historyRun>[]): Promise<FileRunStore> {
  const store = new FileRunStore(dir);
  for (let i = 0; i < finished; i++) {
    await store.save(historyRun(1000 + i, "done", { pr: { number: 5000 + i, url: `https://github.com/octo/app/pull/${5000 + i}` } }));
  }
  for (const run of others) await store.save(run);
  return store;
}

describe("a monitor sweep as history grows", () => {
  it("loads the runs that have work left, not every run ever made", async () => {
    const active = [historyRun(1, "building"), historyRun(2, "awaiting_ci", { pr: { number: 21, url: "u" } }), historyRun(3, "planning")];
    const backing = await storeWith(150, [...active, historyRun(4, "gated", { pr: { number: 24, url: "u" } }), historyRun(5, "escalated")]);
    const { store, loads } = countingLoads(backing);
    const engine = new Engine({ store, effects: {} as EffectContext, settings: defaultMachineSettings, log: quietLog });
    const monitor = new Monitor({ store, queue: idleQueue, submit: () => Promise.resolve(), reviveOrphans: () => engine.reviveOrphans(), log: quietLog });

    await monitor.sweep();

    expect([...new Set(loads)].sort()).toEqual(active.map((r) => r.id).sort());
    // The monitor and the orphan check each read a run once.
    expect(loads).toHaveLength(2 * active.length);
  });
});

describe("reconciliation as history grows", () => {
  let github: ReturnType<typeof fenceGitHub>;
  beforeEach(() => {
    github = fenceGitHub();
  });
  afterEach(() => github.close());

  it("asks GitHub only about PRs that may still change, and reads only those runs", async () => {
    const gated = historyRun(4, "gated", { pr: { number: 24, url: "u" } });
    const backing = await storeWith(100, [
      gated,
      historyRun(6, "cancelled", { pr: { number: 26, url: "u" } }),
      historyRun(7, "escalated"),
      historyRun(8, "building"),
    ]);
    const { store, loads } = countingLoads(backing);
    nock(api)
      .get("/app/installations")
      .query(true)
      .reply(200, [{ id: 42 }])
      .get("/installation/repositories")
      .query(true)
      .reply(200, { total_count: 1, repositories: [{ name: "app", owner: { login: "octo" } }] })
      .get("/repos/octo/app/issues")
      .query(true)
      .reply(200, [])
      .get("/repos/octo/app/pulls/24")
      .reply(200, { number: 24, state: "closed", merged: true, merged_by: { login: "maintainer" } });

    const events = await reconcile({
      store,
      appOctokit: () => Promise.resolve(testOctokit()),
      octokitFor: () => Promise.resolve(testOctokit()),
      triggerLabel: () => "agent:build",
      now: () => new Date("2026-03-01T00:00:00.000Z"),
    });

    github.verify();
    expect(events).toEqual([{ type: "pr.closed", runId: gated.id, at: "2026-03-01T00:00:00.000Z", merged: true, by: "maintainer" }]);
    expect(loads).toEqual([gated.id]);
  });
});

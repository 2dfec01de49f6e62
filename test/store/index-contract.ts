import { describe, expect, it } from "vitest";
import type { Effect } from "../../src/domain/index.js";
import type { RunStore } from "../../src/store/run-store.js";
import { historyRun } from "../orchestrator/history-kit.js";

export interface IndexedStores {
  /** A fresh, empty store. */
  fresh(): Promise<RunStore>;
  /** Another store over the same data, as after a restart. */
  reopen(store: RunStore): Promise<RunStore>;
  /** Deletes the indexes (not the runs), as a store written before they existed. */
  forgetIndex(store: RunStore): Promise<void>;
}

const farFuture = "2999-01-01T00:00:00.000Z";
const a = "octo/app#1";
const pendingComment: Effect = { kind: "upsertProgressComment", key: "octo/app#2:upsertProgressComment:9", body: "done" };

/** The same index behaviour, whichever store keeps it. */
export function describeRunIndexes(name: string, stores: IndexedStores): void {
  describe(`${name}: indexes of active runs and of PRs`, () => {
    it("follows a run through its phases: active, watched, found by its PR, then retained", async () => {
      const s = await stores.fresh();
      await s.save(historyRun(1, "building"));
      expect([await s.listActiveRuns(), await s.listWatchedRuns()]).toEqual([[a], []]);

      await s.save(historyRun(1, "awaiting_ci", { pr: { number: 21, url: "u" } }));
      expect([await s.listActiveRuns(), await s.listWatchedRuns(), await s.runForPr("octo", "app", 21)]).toEqual([[a], [a], a]);

      await s.save(historyRun(1, "gated", { pr: { number: 21, url: "u" } }));
      expect([await s.listActiveRuns(), await s.listWatchedRuns(), await s.listPrunableRuns(farFuture)]).toEqual([[], [a], []]);

      await s.save(historyRun(1, "done", { pr: { number: 21, url: "u" }, updatedAt: "2026-02-01T00:00:00.000Z" }));
      expect([await s.listActiveRuns(), await s.listWatchedRuns(), await s.runForPr("octo", "app", 21)]).toEqual([[], [], a]);
      expect(await s.listPrunableRuns("2026-02-01T00:00:00.001Z")).toEqual([a]);
      expect(await s.listPrunableRuns("2026-02-01T00:00:00.000Z")).toEqual([]);
    });

    it("counts a finished run with an unanswered effect as active, so a restart still performs it", async () => {
      const s = await stores.fresh();
      await s.save(historyRun(2, "escalated", { pending: [pendingComment] }));
      expect(await s.listActiveRuns()).toEqual(["octo/app#2"]);
      await s.save(historyRun(2, "escalated"));
      expect(await s.listActiveRuns()).toEqual([]);
    });

    it("finds a run by its current PR only, whatever the case of the repository name", async () => {
      const s = await stores.fresh();
      await s.save(historyRun(1, "cancelled", { pr: { number: 21, url: "u" } }));
      expect(await s.runForPr("Octo", "App", 21)).toBe(a);
      expect(await s.runForPr("octo", "app", 22)).toBeUndefined();
      expect(await s.runForPr("octo", "other", 21)).toBeUndefined();
      // Relabelled: a fresh run of the issue, without the old PR.
      await s.save(historyRun(1, "building"));
      expect(await s.runForPr("octo", "app", 21)).toBeUndefined();
      await s.save(historyRun(1, "reviewing", { pr: { number: 30, url: "u" } }));
      expect([await s.runForPr("octo", "app", 21), await s.runForPr("octo", "app", 30)]).toEqual([undefined, a]);
    });

    it("keeps a PR another run has taken when the first run moves on from it", async () => {
      const s = await stores.fresh();
      await s.save(historyRun(1, "cancelled", { pr: { number: 21, url: "u" } }));
      await s.save(historyRun(2, "reviewing", { pr: { number: 21, url: "u" } }));
      await s.save(historyRun(1, "building"));
      expect(await s.runForPr("octo", "app", 21)).toBe("octo/app#2");
    });

    it("prunes a run: compacted notes stay, journal and progress go, and it leaves the retention and PR indexes", async () => {
      const s = await stores.fresh();
      const run = historyRun(1, "done", { pr: { number: 21, url: "u" } });
      await s.save(run);
      await s.appendJournal(a, { at: run.updatedAt, event: { type: "wait.expired", runId: a, at: run.updatedAt, waitingFor: "ci", waitedMs: 1 }, effects: [], phase: "done" });
      await s.recordProgress(a, { jobId: "j", at: run.updatedAt, turn: 1, toolCalls: 1, filesChanged: 0 });
      const { pr: _pr, ...compacted } = run;

      await s.pruneRun(compacted);

      expect(await s.load(a)).toEqual(compacted);
      expect([await s.journal(a), await s.progress(a)]).toEqual([[], {}]);
      expect([await s.listPrunableRuns(farFuture), await s.runForPr("octo", "app", 21)]).toEqual([[], undefined]);
      // The journal starts again from 1 if the pruned run is ever touched.
      await s.appendJournal(a, { at: run.updatedAt, event: { type: "wait.expired", runId: a, at: run.updatedAt, waitingFor: "ci", waitedMs: 1 }, effects: [], phase: "done" });
      expect((await s.journal(a)).map((e) => e.seq)).toEqual([1]);
    });

    it("keeps the indexes across a restart", async () => {
      const s = await stores.fresh();
      await s.save(historyRun(1, "building"));
      await s.save(historyRun(2, "gated", { pr: { number: 22, url: "u" } }));
      await s.save(historyRun(3, "done", { pr: { number: 23, url: "u" } }));
      const again = await stores.reopen(s);
      expect(await again.listActiveRuns()).toEqual([a]);
      expect(await again.listWatchedRuns()).toEqual(["octo/app#2"]);
      expect(await again.runForPr("octo", "app", 23)).toBe("octo/app#3");
      expect(await again.listPrunableRuns(farFuture)).toEqual(["octo/app#3"]);
    });

    it("indexes the runs of a store written before the indexes existed, at first use", async () => {
      const s = await stores.fresh();
      await s.save(historyRun(1, "building"));
      await s.save(historyRun(2, "gated", { pr: { number: 22, url: "u" } }));
      await s.save(historyRun(3, "done"));
      await stores.forgetIndex(s);
      const again = await stores.reopen(s);
      expect(await again.listActiveRuns()).toEqual([a]);
      expect(await again.listWatchedRuns()).toEqual(["octo/app#2"]);
      expect(await again.runForPr("octo", "app", 22)).toBe("octo/app#2");
      expect(await again.listPrunableRuns(farFuture)).toEqual(["octo/app#3"]);
    });
  });
}

/** Stamps tell a reader which notes changed since it last looked, whichever store keeps them. */
export function describeRunStamps(name: string, fresh: () => Promise<RunStore>): void {
  describe(`${name}: run stamps`, () => {
    it("changes a run's stamp when its notes are saved, and keeps the stamps of runs left alone", async () => {
      const s = await fresh();
      expect(await s.runStamps()).toEqual(new Map());
      await s.save(historyRun(1, "building"));
      await s.save(historyRun(2, "building"));
      const first = await s.runStamps();
      expect([...first.keys()].sort()).toEqual([a, "octo/app#2"]);
      expect(await s.runStamps()).toEqual(first);

      // Saved again with notes of the same length: the stamp still moves.
      await s.save(historyRun(1, "planning"));
      const second = await s.runStamps();
      expect(second.get(a)).not.toBe(first.get(a));
      expect(second.get("octo/app#2")).toBe(first.get("octo/app#2"));

      // The journal and progress are not the notes: they leave the stamp as it is.
      await s.appendJournal(a, { at: "2026-01-01T00:00:00.000Z", event: { type: "wait.expired", runId: a, at: "2026-01-01T00:00:00.000Z", waitingFor: "ci", waitedMs: 1 }, effects: [], phase: "planning" });
      await s.recordProgress(a, { jobId: "j", at: "2026-01-01T00:00:00.000Z", turn: 1, toolCalls: 1, filesChanged: 0 });
      expect((await s.runStamps()).get(a)).toBe(second.get(a));

      // Pruned notes are new notes.
      await s.pruneRun(historyRun(2, "done"));
      expect((await s.runStamps()).get("octo/app#2")).not.toBe(first.get("octo/app#2"));
    });

    it("knows a delivery id it received, waiting or taken, so a redelivery needs no call to GitHub", async () => {
      const s = await fresh();
      const event = { type: "wait.expired" as const, runId: a, at: "2026-01-01T00:00:00.000Z", waitingFor: "ci" as const, waitedMs: 1 };
      expect(await s.wasDelivered("d-new")).toBe(false);
      await s.putDelivery({ deliveryId: "d-new", event });
      expect(await s.wasDelivered("d-new")).toBe(true);
      await s.markDeliveryTaken("d-new");
      expect(await s.wasDelivered("d-new")).toBe(true);
      expect(await s.wasDelivered("d-other")).toBe(false);
    });
  });
}

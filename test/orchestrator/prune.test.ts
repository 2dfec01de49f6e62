import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Run } from "../../src/domain/index.js";
import { decide } from "../../src/orchestrator/machine.js";
import { Monitor } from "../../src/orchestrator/monitor.js";
import { pruneRuns, type CleanWorkspace } from "../../src/orchestrator/prune.js";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import { FileRunStore } from "../../src/store/file.js";
import type { RunStore } from "../../src/store/run-store.js";
import { cleanRunWorktrees } from "../../src/workspace/clean-run.js";
import { runGit, Workspace } from "../../src/workspace/index.js";
import { makeOriginRepo } from "../kit/git-server.js";
import { api, fenceGitHub, testOctokit } from "../github/kit.js";
import { plan, result } from "./fixtures.js";
import { historyRun, idleQueue } from "./history-kit.js";

const repo = { owner: "octo", name: "app", installationId: 42 };
const author = { name: "shopfloor[bot]", email: "shopfloor@users.noreply.github.com" };
const now = Date.parse("2026-03-01T00:00:00.000Z");
const old = "2026-01-01T00:00:00.000Z";
const recent = "2026-02-25T00:00:00.000Z";

let tmp: string;
let origin: string;
let seed: string;
let ws: Workspace;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "shopfloor-prune-"));
  seed = await makeOriginRepo(join(tmp, "origin"), repo.owner, repo.name, { "README.md": "# app\n" });
  origin = join(tmp, "origin", repo.owner, `${repo.name}.git`);
  ws = new Workspace({ workDir: join(tmp, "work"), tokenFor: async () => "unused", remoteUrlFor: () => origin });
  await ws.syncMirror(repo);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const clean: CleanWorkspace = (run) =>
  cleanRunWorktrees(ws, { repo: run.repo, issueNumber: run.issue.number, pushed: run.headSha ? [run.headSha] : [] });

/** A worktree a killed job left behind, with a committed change on it. */
async function leftoverWithCommit(label: string): Promise<{ path: string; sha: string }> {
  const path = await ws.addWorktree(repo, seed, label);
  await writeFile(join(path, `${label}.txt`), "work\n");
  const commit = await ws.commitAll(path, `work of ${label}`, author);
  return { path, sha: commit!.sha };
}

const warnings: Array<{ obj: object; msg: string }> = [];
const log = { info() {}, warn: (obj: object, msg: string) => void warnings.push({ obj, msg }), error() {} };

describe("retention", () => {
  let store: FileRunStore;
  let merged: Run;
  let unpushed: { path: string; sha: string };
  let pushedThenMerged: { path: string; sha: string };
  let halfDone: string;
  let activeTree: string;

  beforeAll(async () => {
    store = new FileRunStore(join(tmp, "state"));
    // Run 1 was merged long ago: its branch was pushed, squash-merged and deleted on GitHub.
    pushedThenMerged = await leftoverWithCommit("1-impl-a1");
    await ws.push(repo, pushedThenMerged.sha, "shopfloor/1-old");
    await runGit(["update-ref", "-d", "refs/heads/shopfloor/1-old"], { cwd: origin });
    await ws.syncMirror(repo);
    halfDone = await ws.addWorktree(repo, seed, "1-docs-a2");
    await writeFile(join(halfDone, "half.txt"), "a killed attempt's edit\n");
    merged = historyRun(1, "done", { updatedAt: old, headSha: pushedThenMerged.sha, pr: { number: 101, url: "u" }, deliveries: ["d-1", "d-1b"], effectSeq: 17, progressCommentId: 555, plan, subtasks: { impl: { status: "ok", attempts: 1, result: result(pushedThenMerged.sha) } } });
    await store.save(merged);
    await store.appendJournal(merged.id, { at: old, event: { type: "wait.expired", runId: merged.id, at: old, waitingFor: "ci", waitedMs: 1 }, effects: [], phase: "done" });
    await store.recordProgress(merged.id, { jobId: "j", at: old, turn: 3, toolCalls: 4, filesChanged: 1 });
    // Run 2 was cancelled long ago, but a killed job left a commit that was never pushed.
    unpushed = await leftoverWithCommit("2-impl-a1");
    await store.save(historyRun(2, "cancelled", { updatedAt: old, pr: { number: 102, url: "u" } }));
    await store.appendJournal("octo/app#2", { at: old, event: { type: "wait.expired", runId: "octo/app#2", at: old, waitingFor: "ci", waitedMs: 1 }, effects: [], phase: "cancelled" });
    // Still working, waiting on a person, or finished recently: all kept whatever their age.
    activeTree = await ws.addWorktree(repo, seed, "11-impl-a1");
    await store.save(historyRun(11, "building", { updatedAt: old }));
    await store.save(historyRun(5, "gated", { updatedAt: old, pr: { number: 105, url: "u" } }));
    await store.save(historyRun(4, "done", { updatedAt: recent }));
  });

  it("prunes old finished runs, keeping active, watched, recent and unpushed work", async () => {
    const pruned = await pruneRuns({ store, retentionDays: 30, cleanWorkspace: clean, now, log });

    expect(pruned).toBe(1);
    const after = (await store.load(merged.id))!;
    expect(after.phase).toBe("done");
    expect([after.plan, after.subtasks, after.issue.body]).toEqual([undefined, {}, ""]);
    expect([after.deliveries, after.effectSeq, after.progressCommentId]).toEqual([["d-1", "d-1b"], 17, 555]);
    expect(after.pr).toBeUndefined();
    expect(await store.journal(merged.id)).toEqual([]);
    expect(await store.progress(merged.id)).toEqual({});
    expect(existsSync(pushedThenMerged.path)).toBe(false);
    expect(existsSync(halfDone)).toBe(false);
    expect(await store.runForPr("octo", "app", 101)).toBeUndefined();

    expect(existsSync(unpushed.path)).toBe(true);
    expect(await store.journal("octo/app#2")).toHaveLength(1);
    expect(await store.runForPr("octo", "app", 102)).toBe("octo/app#2");
    expect(warnings.some((w) => JSON.stringify(w.obj).includes(unpushed.sha.slice(0, 12)))).toBe(true);

    expect(existsSync(activeTree)).toBe(true);
    expect((await store.load("octo/app#11"))!.config).toBeDefined();
    expect(await store.listWatchedRuns()).toEqual(["octo/app#5"]);
    expect(await store.listPrunableRuns(new Date(now - 30 * 86_400_000).toISOString())).toEqual(["octo/app#2"]);
  });

  it("treats a delivery for a pruned run as before: a repeat stays a repeat, a relabel starts afresh", async () => {
    const compacted = (await store.load(merged.id))!;
    const requested = {
      type: "run.requested" as const,
      runId: merged.id,
      at: "2026-03-02T00:00:00.000Z",
      deliveryId: "d-1b",
      delivery: "d-1b",
      repo,
      issue: { number: 1, title: "Issue 1", body: "again" },
      sender: "writer",
    };
    const repeat = decide(compacted, requested);
    expect(repeat.run).toBe(compacted);
    expect(repeat.effects).toEqual([]);

    const relabel = decide(compacted, { ...requested, deliveryId: "d-new", delivery: "d-new" });
    expect(relabel.run?.phase).toBe("configuring");
    // Effect keys go on counting: nothing of the pruned run's GitHub objects is taken for the new one.
    expect(relabel.effects.every((e) => Number(e.key.split(":").pop()) > 17)).toBe(true);
    expect(relabel.run?.progressCommentId).toBe(555);
  });

  it("does not start a pruned run again when reconciliation finds its issue still labelled", async () => {
    const github = fenceGitHub();
    try {
      nock(api)
        .get("/app/installations")
        .query(true)
        .reply(200, [{ id: 42 }])
        .get("/installation/repositories")
        .query(true)
        .reply(200, { total_count: 1, repositories: [{ name: "app", owner: { login: "octo" } }] })
        .get("/repos/octo/app/issues")
        .query(true)
        .reply(200, [{ number: 1, title: "Issue 1", body: "" }])
        .get("/repos/octo/app/pulls/105")
        .reply(200, { number: 105, state: "open" });
      const events = await reconcile({
        store,
        appOctokit: () => Promise.resolve(testOctokit()),
        octokitFor: () => Promise.resolve(testOctokit()),
        triggerLabel: () => "agent:build",
      });
      github.verify();
      expect(events).toEqual([]);
    } finally {
      github.close();
    }
  });
});

describe("the monitor's pruning", () => {
  it("prunes at most once an hour, beside the sweep", async () => {
    const backing = new FileRunStore(join(tmp, "state-hourly"));
    await backing.save(historyRun(1, "done", { updatedAt: old }));
    let asked = 0;
    const store = new Proxy(backing, {
      get(target, prop) {
        if (prop === "listPrunableRuns") return (before: string) => (asked++, target.listPrunableRuns(before));
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as RunStore;
    let clock = now;
    const monitor = new Monitor({ store, queue: idleQueue, submit: () => Promise.resolve(), retentionDays: 30, now: () => clock, log });

    await monitor.sweep();
    await monitor.idle();
    expect(asked).toBe(1);
    expect(await backing.journal("octo/app#1")).toEqual([]);
    expect(await backing.listPrunableRuns(new Date(now).toISOString())).toEqual([]);

    clock += 59 * 60_000;
    await monitor.sweep();
    await monitor.idle();
    expect(asked).toBe(1);

    clock += 2 * 60_000;
    await monitor.sweep();
    await monitor.idle();
    expect(asked).toBe(2);
  });
});

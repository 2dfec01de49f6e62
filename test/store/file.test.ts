import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { terminalPhases } from "../../src/domain/index.js";
import { FileRunStore } from "../../src/store/file.js";
import { hasWorkLeft, isWatched } from "../../src/store/run-index.js";
import { historyRun } from "../orchestrator/history-kit.js";
import type { RunStore } from "../../src/store/run-store.js";
import { describeRunIndexes, describeRunStamps } from "./index-contract.js";

const dirs: string[] = [];
const rootOf = new WeakMap<RunStore, string>();

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "shopfloor-file-store-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function open(dir: string): FileRunStore {
  const store = new FileRunStore(dir);
  rootOf.set(store, dir);
  return store;
}

describeRunIndexes("FileRunStore", {
  fresh: async () => open(await freshDir()),
  reopen: async (store) => open(rootOf.get(store)!),
  forgetIndex: async (store) => rm(join(rootOf.get(store)!, "index"), { recursive: true, force: true }),
});

describeRunStamps("FileRunStore", async () => open(await freshDir()));

describe("FileRunStore reads", () => {
  it("answers a run or delivery that is not there as absent, and a state dir it cannot read as an error, never as absent", async () => {
    const store = open(await freshDir());
    expect(await store.load("octo/app#1")).toBeUndefined();
    expect(await store.wasDelivered("d-1")).toBe(false);
    // A file where a folder should be (a damaged state dir): taking it for "no run" would start the run again.
    const dir = await freshDir();
    await mkdir(join(dir, "runs", "octo"), { recursive: true });
    await writeFile(join(dir, "runs", "octo", "app"), "not a folder");
    await mkdir(join(dir, "deliveries"), { recursive: true });
    await writeFile(join(dir, "deliveries", "pending"), "not a folder");
    const damaged = open(dir);
    await expect(damaged.load("octo/app#1")).rejects.toMatchObject({ code: "ENOTDIR" });
    await expect(damaged.wasDelivered("d-1")).rejects.toMatchObject({ code: "ENOTDIR" });
    // The same for the PR index: an entry that cannot be read is not "no run".
    expect(await store.runForPr("octo", "app", 5)).toBeUndefined();
    await mkdir(join(rootOf.get(store)!, "index", "prs", encodeURIComponent("octo/app#5")));
    await expect(store.runForPr("octo", "app", 5)).rejects.toMatchObject({ code: "EISDIR" });
  });

  it("reads the disk for every run it holds, saved before it opened or since, and errs on notes it cannot read", async () => {
    const dir = await freshDir();
    await open(dir).save(historyRun(1, "building"));
    const store = open(dir);
    expect(await store.load("octo/app#2")).toBeUndefined();
    expect((await store.load("octo/app#1"))?.phase).toBe("building");
    // Saved after the store listed its runs: found all the same.
    await store.save(historyRun(2, "planning"));
    expect((await store.load("octo/app#2"))?.phase).toBe("planning");
    // Damaged since: an error, never "no run".
    await rm(join(dir, "runs", "octo", "app", "2", "run.json"));
    await mkdir(join(dir, "runs", "octo", "app", "2", "run.json"));
    await expect(store.load("octo/app#2")).rejects.toMatchObject({ code: "EISDIR" });
    // A first load that lists the runs while a new run is being saved still finds it afterwards.
    for (let trial = 0; trial < 20; trial++) {
      const fresh = open(await freshDir());
      await Promise.all([fresh.save(historyRun(1, "planning")), new Promise((r) => setTimeout(r, trial % 5)).then(() => fresh.load("octo/app#9"))]);
      expect((await fresh.load("octo/app#1"))?.phase, `trial ${trial}`).toBe("planning");
    }
    // A folder it cannot list is an error too, and asked again on the next load.
    const unlisted = await freshDir();
    await writeFile(join(unlisted, "runs"), "not a folder");
    const blocked = open(unlisted);
    await expect(blocked.load("octo/app#1")).rejects.toMatchObject({ code: "ENOTDIR" });
    await rm(join(unlisted, "runs"));
    expect(await blocked.load("octo/app#1")).toBeUndefined();
  });
});

const child = fileURLToPath(new URL("./file-crash-child.ts", import.meta.url));
const farFuture = "2999-01-01T00:00:00.000Z";

/** Runs the saving child on `dir` and SIGKILLs it `killAfterMs` after its first round. */
function saveUntilKilled(dir: string, killAfterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--import", "tsx", child, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
    proc.stdout.once("data", () => setTimeout(() => proc.kill("SIGKILL"), killAfterMs));
    proc.once("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`child ended with ${code}: ${err}`))));
  });
}

/** What the notes on disk say the indexes must hold at least. */
async function mustFind(store: FileRunStore): Promise<{ active: string[]; watched: string[]; prs: Array<[number, string]>; retained: string[] }> {
  const want = { active: [] as string[], watched: [] as string[], prs: [] as Array<[number, string]>, retained: [] as string[] };
  for (const id of await store.listRuns()) {
    const run = (await store.load(id))!;
    if (hasWorkLeft(run)) want.active.push(id);
    if (isWatched(run)) want.watched.push(id);
    if (run.pr) want.prs.push([run.pr.number, id]);
    if (terminalPhases.includes(run.phase) && !hasWorkLeft(run) && !isWatched(run)) want.retained.push(id);
  }
  return want;
}

describe("FileRunStore indexes under SIGKILL", () => {
  // Each trial kills a process that saves runs through every transition back to back, at a
  // different instant; whatever instant it is, no run that has work left (or a PR) goes missing.
  it.each([10, 35, 70, 120, 200])("never loses an active run or a PR when killed %i ms into saving", async (killAfterMs) => {
    const dir = await freshDir();
    await saveUntilKilled(dir, killAfterMs);
    const store = open(dir);
    const want = await mustFind(store);
    expect(want.active.length + want.watched.length).toBeGreaterThan(0);

    expect(await store.listActiveRuns()).toEqual(expect.arrayContaining(want.active));
    expect(await store.listWatchedRuns()).toEqual(expect.arrayContaining(want.watched));
    expect(await store.listPrunableRuns(farFuture)).toEqual(expect.arrayContaining(want.retained));
    for (const [pr, id] of want.prs) expect(await store.runForPr("octo", "app", pr)).toBe(id);
    // A PR the notes do not hold (an entry the kill left behind) names no run.
    for (let issue = 1; issue <= 6; issue++) {
      for (const pr of [issue * 10, issue * 10 + 1]) {
        if (!want.prs.some(([p]) => p === pr)) expect(await store.runForPr("octo", "app", pr)).toBeUndefined();
      }
    }

    // The next save of each run leaves its entries exactly as its notes say.
    for (const id of await store.listRuns()) await store.save((await store.load(id))!);
    expect(await store.listActiveRuns()).toEqual(want.active);
    expect(await store.listWatchedRuns()).toEqual(want.watched);
    expect(await store.listPrunableRuns(farFuture)).toEqual(want.retained);
  });
});

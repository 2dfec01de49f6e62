import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, utimes, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { withFileLock } from "../../src/store/lock.js";
import { labeledPayload } from "../e2e/scenario.js";
import { deliverWebhook, prepareTrial, startKit } from "../kit/crash.js";
import { readFakeGitHubState, type FakeGitHubState } from "../kit/github.js";
import { spawnAsPidOne, type PidOne } from "../kit/pid-one.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const appChild = ["--import", "tsx", fileURLToPath(new URL("../kit/crash-child.ts", import.meta.url))];
const lockChild = ["--import", "tsx", fileURLToPath(new URL("../kit/lock-child.ts", import.meta.url))];
const runId = "Codertocat/Hello-World#1";
const runLockPath = (stateDir: string) => join(stateDir, "runs", "Codertocat", "Hello-World", "1", "lock");

const dirs: string[] = [];
const processes: PidOne[] = [];
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "shopfloor-lock-"));
  dirs.push(dir);
  return dir;
}

describe("a run lock left by a SIGKILLed app that ran as PID 1 (the Docker image)", () => {
  it("is taken at once by the next start, PID 1 again in a fresh pid namespace", async () => {
    const stateDir = await tempDir();
    const first = spawnAsPidOne([process.execPath, ...lockChild, stateDir, runId, "hold"], { cwd: root });
    processes.push(first);
    expect(await first.line("holding")).toBe("holding 1");
    await first.kill();
    expect(existsSync(runLockPath(stateDir))).toBe(true);

    const second = spawnAsPidOne([process.execPath, ...lockChild, stateDir, runId, "take"], { cwd: root });
    processes.push(second);
    const { code, stderr } = await second.exited;
    expect(stderr.trim()).toBe("");
    expect(code).toBe(0);
    const [, pid, waitedMs] = (await second.line("took")).split(" ");
    expect(pid).toBe("1");
    // Today's lock would wait the whole 30 s timeout and fail every event of the run.
    expect(Number(waitedMs)).toBeLessThan(1_000);
    expect(existsSync(runLockPath(stateDir))).toBe(false);
  }, 60_000);
});

describe("the real app restarted as PID 1 on a run whose lock a SIGKILLed PID 1 left behind", () => {
  it("takes the lock at once: the labelled issue gets its progress comment and pull request, well inside the lock's 30 s timeout", async () => {
    const kit = await startKit();
    const trial = await prepareTrial(kit);
    dirs.push(trial.dir);
    try {
      // What a kill of the app mid-event leaves on disk: the run's lock, owned by a PID 1 that is gone.
      const killed = spawnAsPidOne([process.execPath, ...lockChild, trial.stateDir, runId, "hold"], { cwd: root });
      processes.push(killed);
      await killed.line("holding 1");
      await killed.kill();
      expect(existsSync(runLockPath(trial.stateDir))).toBe(true);

      const app = spawnAsPidOne([process.execPath, ...appChild, trial.setupPath], { cwd: root });
      processes.push(app);
      await within(app.line("shopfloor-crash-child ready"), 20_000, "the restarted app was not ready");
      const sentAt = performance.now();
      expect(await within(deliverWebhook(trial.setup.appPort, "lock-restart-1", labeledPayload()), 20_000, "the delivery was not answered")).toBe(200);
      // Today every event of the run waits out the 30 s lock timeout and fails: no comment, no PR, ever.
      const github = await whenGitHubShows(trial.setup.statePath, (gh) => gh.pulls.length > 0 && progressComments(gh) > 0, 20_000);
      expect(performance.now() - sentAt).toBeLessThan(20_000);
      expect(github.pulls).toHaveLength(1);
      expect(progressComments(github)).toBe(1);
      expect(github.unexpected).toEqual([]);
    } finally {
      await Promise.all(processes.splice(0).map((p) => p.kill()));
      await trial.git.close();
      await kit.close();
    }
  }, 90_000);
});

describe("who counts as the owner of a run lock", () => {
  it("takes a lock that names our own pid from an earlier life of this pid (another start time)", async () => {
    const path = join(await tempDir(), "lock");
    const boot = (await readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim();
    await writeFile(path, JSON.stringify({ pid: process.pid, boot, start: "1", token: "earlier-life" }));
    const started = performance.now();
    await expect(withFileLock(path, async () => "taken", { pollMs: 25, timeoutMs: 3_000 })).resolves.toBe("taken");
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("never steals a lock that another call of this same process holds: the second call waits its turn", async () => {
    const path = join(await tempDir(), "lock");
    const order: string[] = [];
    let release!: () => void;
    let holding!: () => void;
    const isHolding = new Promise<void>((resolve) => (holding = resolve));
    const first = withFileLock(path, async () => {
      order.push("first in");
      holding();
      await new Promise<void>((resolve) => (release = resolve));
      order.push("first out");
    });
    await isHolding;
    const second = withFileLock(path, async () => void order.push("second in"), { pollMs: 5, timeoutMs: 10_000 });
    // The second call polls the held lock many times, judging its owner each time, before the first lets go.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(order).toEqual(["first in"]);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["first in", "first out", "second in"]);
  });

  it("waits for a live process that holds the lock, and takes it at once when that process is killed", async () => {
    const stateDir = await tempDir();
    const holder = spawn(process.execPath, [...lockChild, stateDir, runId, "hold"], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise((resolve) => holder.once("exit", resolve));
    try {
      await new Promise<void>((resolve) => holder.stdout.on("data", (c: Buffer) => c.toString().includes("holding") && resolve()));
      const waitShort = { pollMs: 25, timeoutMs: 500 };
      await expect(withFileLock(runLockPath(stateDir), async () => "stolen", waitShort)).rejects.toThrow(/held by another live process/);
      holder.kill("SIGKILL");
      await exited;
      const started = performance.now();
      await expect(withFileLock(runLockPath(stateDir), async () => "taken")).resolves.toBe("taken");
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("treats an empty lock (a kill mid-write by an older version) as stale once it is old, and a fresh one as held", async () => {
    const path = join(await tempDir(), "lock");
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, "");
    await expect(withFileLock(path, async () => "stolen", { pollMs: 25, timeoutMs: 300 })).rejects.toThrow(/held/);
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(path, minuteAgo, minuteAgo);
    await expect(withFileLock(path, async () => "taken", { pollMs: 25, timeoutMs: 3_000 })).resolves.toBe("taken");
  });
});

const progressComments = (gh: FakeGitHubState) =>
  gh.comments.flatMap(([, list]) => list).filter((c) => c.body.includes(`<!-- shopfloor:progress:${runId} -->`)).length;

/** The fake GitHub's state once `shows` holds, polled as a person refreshing the issue would; throws after `timeoutMs`. */
async function whenGitHubShows(statePath: string, shows: (gh: FakeGitHubState) => boolean, timeoutMs: number): Promise<FakeGitHubState> {
  const started = performance.now();
  for (;;) {
    const gh = readFakeGitHubState(statePath);
    if (gh && shows(gh)) return gh;
    if (performance.now() - started > timeoutMs) throw new Error(`GitHub did not show the run within ${timeoutMs} ms: ${JSON.stringify(gh ?? "never called")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `promise`, or a failure naming `what` after `ms`: an app stuck on a lock must fail the test, not hang it. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

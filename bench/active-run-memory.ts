/**
 * Memory per active run: 20 runs at once (3 with --quick) in the real app, each with its planner
 * job in flight — its worktree checked out, its brief sent, the scripted model holding the
 * answer — with the runner pool wide enough that none waits in the queue. Measured in this
 * process (the app, its runner pool and the model server), after a forced GC, against the idle
 * app after one warm-up run; git and sandbox child processes are not in it. Goal: at most 5 MB
 * of resident memory above idle per run.
 */
import { owner, repoName, startApp, type AppHarness } from "../test/kit/app.js";
import type { Turn } from "../test/kit/model-server.js";
import { configYaml, labeledPayload, projectFiles } from "../test/e2e/scenario.js";
import { defineBench, round } from "./kit/figure.js";

const GOAL_MB = 5;
const MB = 1024 * 1024;

/** Resident and heap memory after a full collection (the bench runs with --expose-gc). */
async function settledMemory(): Promise<{ rss: number; heap: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc (bench/run.ts does)");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

export default defineBench({
  title: "memory per active run",
  async run({ quick, log }) {
    const runs = quick ? 3 : 20;
    let requests = 0;
    let allIn: () => void = () => undefined;
    const everyRun = new Promise<void>((resolve) => (allIn = resolve));
    // The warm-up run's planner is refused (the run escalates); every measured one is held.
    const held = (): Turn => {
      if (++requests === runs) allIn();
      return { hang: true };
    };
    let app: AppHarness | undefined;
    try {
      app = await startApp({
        script: { "claude-haiku-4-5": [{ error: { status: 400 } }, ...Array.from({ length: runs }, () => held)] },
        files: projectFiles,
        configYaml,
        env: { SHOPFLOOR_RUNNER_CONCURRENCY: String(runs) },
      });
      app.github.permissions = { Codertocat: "write" };
      const label = async (issue: number) => {
        const payload = labeledPayload();
        payload.issue.number = issue;
        if ((await app!.deliver("issues", payload)) !== 200) throw new Error(`the label on issue ${issue} was not acknowledged`);
      };
      // One whole run first: every module a run loads is loaded before idle is measured.
      await label(1);
      await app.waitForRun(`${owner}/${repoName}#1`);
      const idle = await settledMemory();
      for (let i = 0; i < runs; i++) await label(i + 2);
      await everyRun;
      const active = await settledMemory();
      const perRun = (bytes: number) => round(bytes / runs / MB, 2);
      log(`idle: rss ${round(idle.rss / MB)} MB, heap ${round(idle.heap / MB)} MB; ${runs} active: rss ${round(active.rss / MB)} MB, heap ${round(active.heap / MB)} MB`);
      const note = `${runs} runs, each with its planner waiting on the scripted model; this process only (git and sandbox children not included)`;
      return [
        { name: "resident memory per active run", value: perRun(active.rss - idle.rss), unit: "MB", anchor: { name: "idle app, whole process", value: round(idle.rss / MB), ratio: false }, goal: `≤ ${GOAL_MB} MB`, ok: (active.rss - idle.rss) / runs / MB <= GOAL_MB, note },
        { name: "JS heap per active run", value: perRun(active.heap - idle.heap), unit: "MB", anchor: { name: "idle app, whole heap", value: round(idle.heap / MB), ratio: false } },
      ];
    } finally {
      await app?.close();
    }
  },
});

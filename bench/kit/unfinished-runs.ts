/**
 * Run notes as a crash leaves them: written by `decide` itself from a real event sequence, every
 * GitHub effect answered, and the run's job(s) dispatched and never answered — in planning (the
 * plan job), building (a build job) or reviewing (two review jobs on an open PR).
 */
import { RepoConfigSchema, type Effect, type Event, type JobOutput, type Run } from "../../src/domain/index.js";
import { decide } from "../../src/orchestrator/machine.js";
import { plan } from "../../test/e2e/scenario.js";

export const unfinishedPhases = ["planning", "building", "reviewing"] as const;
const config = RepoConfigSchema.parse({ review: { reviewers: ["anthropic/claude-opus-4-1", "openai/gpt-4.1"] }, ci: { graceMinutes: 0 } });
const sha = (n: number) => n.toString(16).padStart(40, "0");
const integrity = { deletedTests: [], newSkips: [], testCountBase: 1, testCountHead: 1, protectedTouched: [], conflicts: [] };

export function unfinishedRun(repo: { owner: string; name: string; installationId: number }, issue: number, phase: (typeof unfinishedPhases)[number]): Run {
  const runId = `${repo.owner}/${repo.name}#${issue}`;
  let clock = Date.parse("2026-11-21T10:00:00.000Z");
  const at = () => new Date((clock += 1000)).toISOString();
  let run = decide(undefined, {
    type: "run.requested",
    runId,
    at: at(),
    deliveryId: `bench-${issue}`,
    repo,
    issue: { number: issue, title: `Add farewell(name), take ${issue}`, body: "We need `farewell(name)`." },
    sender: "Codertocat",
  }).run!;
  const step = (event: Event) => (run = decide(run, event).run!);
  for (let guard = 0; guard < 40; guard++) {
    const write = run.pending.find((e) => e.kind !== "dispatchJob");
    if (write) {
      step(answerWrite(runId, at(), write, issue));
      continue;
    }
    if (run.phase === phase) return run;
    const job = run.pending.find((e): e is Extract<Effect, { kind: "dispatchJob" }> => e.kind === "dispatchJob");
    if (!job) throw new Error(`${runId} stopped in ${run.phase} before ${phase}`);
    step({ type: "job.succeeded", runId, at: at(), key: job.key, jobId: job.job.jobId, output: output(job.job, issue) });
  }
  throw new Error(`${runId} never reached ${phase}`);
}

function answerWrite(runId: string, at: string, effect: Effect, issue: number): Event {
  const base = { runId, at, key: effect.key };
  switch (effect.kind) {
    case "loadConfig":
      return { ...base, type: "config.loaded", config, defaultBranch: "master" };
    case "upsertProgressComment":
      return { ...base, type: "comment.upserted", commentId: 10_000 + issue };
    case "openPullRequest":
      return { ...base, type: "pr.opened", number: 20_000 + issue, url: `https://github.com/pr/${20_000 + issue}` };
    case "publishGate":
      return { ...base, type: "gate.published", checkRunId: 30_000 + issue };
    default:
      return { ...base, type: "effect.done" };
  }
}

function output(job: Extract<Effect, { kind: "dispatchJob" }>["job"], issue: number): JobOutput {
  if (job.kind === "plan") return { kind: "plan", plan: plan as Extract<JobOutput, { kind: "plan" }>["plan"], baseSha: sha(issue), usage: [] };
  if (job.kind === "build") {
    const handoff = { completed: ["src/farewell.js"], remaining: [], commands: [], issues: [], followedProcedure: true };
    const artifact = { kind: "diff" as const, headSha: sha(issue + 1_000_000), diffStat: "1 file changed", filesChanged: ["src/farewell.js"] };
    return { kind: "build", result: { status: "ok", confidence: 0.9, summary: "done", handoff, artifact, usage: [], trace: [] } };
  }
  if (job.kind === "scrutiny") return { kind: "scrutiny", commands: job.commands.map((c) => ({ ...c, exitCode: 0, ms: 5, timedOut: false, outputTail: "" })), integrity };
  throw new Error(`no answer scripted for a ${job.kind} job`);
}

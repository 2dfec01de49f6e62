import { emptyHealth, goneStatus } from "./queue-fakes.js";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  EventSchema,
  RepoConfigSchema,
  RunSchema,
  type Event,
  type Job,
  type JobOutcome,
  type Plan,
  type RepoConfig,
  type Run,
} from "../../src/domain/index.js";
import { Engine } from "../../src/orchestrator/engine.js";
import type { EffectContext } from "../../src/orchestrator/effects/index.js";
import { decide, type MachineSettings } from "../../src/orchestrator/machine.js";
import type { JobQueue } from "../../src/queue/job-queue.js";
import { FileRunStore } from "../../src/store/file.js";
import { MemoryGitHub } from "./memory-github.js";

/**
 * The replay property through the real shell: an `Engine` over a real `FileRunStore` in a temp
 * dir performs real effect modules against an in-memory GitHub and a scripted job queue. When the
 * run goes quiet, every event in `journal.jsonl` (as written to disk) is replayed through `decide`
 * from nothing, and the result must equal `run.json`.
 */

const runId = "octo/app#7";
/** Backoffs of a few milliseconds, so retries happen without sleeping in the test. */
const settings: MachineSettings = { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 4 }, blockedLabel: "agent:blocked" };

const requested: Event = {
  type: "run.requested",
  runId,
  at: "2026-11-21T10:00:00.000Z",
  deliveryId: "d-1",
  repo: { owner: "octo", name: "app", installationId: 42 },
  issue: { number: 7, title: "Add a farewell() helper", body: "Please add farewell(name)." },
  sender: "writer",
};

const plan: Plan = {
  summary: "Add farewell() and review it",
  risk: "low",
  subtasks: [
    { id: "impl", role: "generate", title: "Implement", brief: "Write src/farewell.js", files: ["src/farewell.js"], dependsOn: [], assertions: ["A1"] },
    { id: "tests", role: "test", title: "Test", brief: "Test it", files: ["test/farewell.test.js"], dependsOn: ["impl"], assertions: ["A2"] },
    { id: "look", role: "review", title: "Read it", brief: "Read the change", files: [], dependsOn: ["impl"], assertions: ["A1"] },
  ],
  contract: {
    assertions: [
      { id: "A1", text: "farewell('Ann') is 'Goodbye, Ann!'", check: { kind: "command", command: "npm test" } },
      { id: "A2", text: "a test covers it", check: { kind: "review", rubric: "a test exists" } },
    ],
  },
};

const usage = [{ provider: "anthropic", model: "claude-sonnet-4-5", inputTokens: 1000, outputTokens: 200, cachedTokens: 0, costUsd: 0.01 }];

/** What the runner would answer for each job; `script` may override per job id. */
type Script = (job: Job, calls: number) => JobOutcome | undefined;

function defaultOutcome(job: Job): JobOutcome {
  switch (job.kind) {
    case "plan":
      return { ok: true, output: { kind: "plan", plan, baseSha: "base0", usage } };
    case "build":
      return {
        ok: true,
        output: {
          kind: "build",
          result: {
            status: "ok",
            confidence: 0.9,
            summary: `did ${job.subtask.id}`,
            handoff: { completed: ["it"], remaining: [], commands: [{ cmd: "npm test", exitCode: 0, ms: 5 }], issues: [], followedProcedure: true },
            artifact: { kind: "diff", headSha: job.subtask.role === "review" ? job.fromSha : `sha-${job.subtask.id}-${job.attempt}`, diffStat: "1 file changed", filesChanged: job.subtask.files },
            usage,
            trace: [],
          },
        },
      };
    case "scrutiny":
      return { ok: true, output: { kind: "scrutiny", commands: job.commands.map((c) => ({ ...c, exitCode: 0, ms: 10, timedOut: false, outputTail: "ok" })) } };
    default:
      return {
        ok: true,
        output: {
          kind: "review",
          review: {
            verdict: "approve",
            summary: "looks right",
            confidence: 0.8,
            findings: [],
            assertionChecks: [],
            reviewer: job.reviewer,
            route: job.route ?? "anthropic/claude-sonnet-4-5",
            headSha: job.headSha,
            onDiff: [],
            usage,
            trace: [],
          },
        },
      };
  }
}

class ScriptedQueue implements JobQueue {
  startedAt(): number | undefined {
    return undefined;
  }

  cancel(): boolean {
    return false;
  }

  readonly jobs: Job[] = [];
  private readonly calls = new Map<string, number>();
  constructor(private readonly script: Script) {}
  async run(job: Job): Promise<JobOutcome> {
    this.jobs.push(job);
    const n = (this.calls.get(job.jobId) ?? 0) + 1;
    this.calls.set(job.jobId, n);
    await new Promise((r) => setImmediate(r));
    return this.script(job, n) ?? defaultOutcome(job);
  }
  size(): number {
    return 0;
  }
  async close(): Promise<void> {}
  status = goneStatus;
  health = emptyHealth;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

interface Scenario {
  config?: RepoConfig | { errors: string[] };
  script?: Script;
  flaky?: Record<string, number>;
  /** Events a person sends once the run goes quiet (e.g. `/approve`). */
  then?: Event[];
}

async function runScenario(s: Scenario) {
  const root = await mkdtemp(join(tmpdir(), "shopfloor-replay-"));
  dirs.push(root);
  const store = new FileRunStore(root);
  const github = new MemoryGitHub();
  for (const [method, n] of Object.entries(s.flaky ?? {})) github.flaky.set(method, n);
  const queue = new ScriptedQueue(s.script ?? (() => undefined));
  const config = s.config ?? RepoConfigSchema.parse({ owners: ["alice"], ci: { graceMinutes: 0 } });
  const effects: EffectContext = {
    octokitFor: async () => github.octokit(),
    queue,
    loadRepoConfig: async () => ("errors" in config ? { ok: false, errors: config.errors } : { ok: true, config }),
    traceExcerpt: async () => "",
  };
  // A clock that moves a second per reading: event times are distinct and every backoff is already over.
  let tick = Date.parse("2026-11-21T10:00:00.000Z");
  const now = () => new Date((tick += 1000));
  const errors: unknown[] = [];
  const log = { info: () => {}, warn: () => {}, error: (obj: object) => errors.push(obj) };
  const engine = new Engine({ store, effects, settings, log, now });
  await engine.submit(requested);
  await engine.idle();
  for (const event of s.then ?? []) {
    await engine.submit({ ...event, at: now().toISOString() });
    await engine.idle();
  }
  engine.stop();

  const dir = join(root, "runs", "octo", "app", "7");
  const onDisk = RunSchema.parse(JSON.parse(await readFile(join(dir, "run.json"), "utf8")));
  const journal = (await readFile(join(dir, "journal.jsonl"), "utf8"))
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as { seq: number; event: unknown; effects: string[]; phase: string | null });
  let replayed: Run | undefined;
  for (const entry of journal) {
    const decision = decide(replayed, EventSchema.parse(entry.event), settings);
    // The journal also recorded what each event decided: the replay decides the same.
    expect(decision.effects.map((e) => e.key)).toEqual(entry.effects);
    expect(decision.run?.phase ?? null).toBe(entry.phase);
    replayed = decision.run;
  }
  return { onDisk, replayed, journal, github, queue, errors };
}

function expectReplayed(r: Awaited<ReturnType<typeof runScenario>>): void {
  expect(r.journal.map((e) => e.seq)).toEqual(r.journal.map((_, i) => i + 1));
  expect(r.replayed).toEqual(r.onDisk);
  expect(r.errors, "an effect crashed instead of answering").toEqual([]);
  // Through the shell too: the engine never asks GitHub to merge.
  expect(r.github.calls.filter((c) => /merge/i.test(c.method) || /mergePullRequest|enablePullRequestAutoMerge/.test(JSON.stringify(c.params)))).toEqual([]);
}

describe("replaying the journal written by the engine", () => {
  it("rebuilds run.json after a run with a transient job failure, a flaky GitHub and parallel work", async () => {
    const r = await runScenario({
      config: RepoConfigSchema.parse({ owners: ["alice"], parallel: true, ci: { graceMinutes: 0 } }),
      script: (job, calls) =>
        job.kind === "build" && job.subtask.id === "impl" && job.attempt === 1 && calls === 1
          ? { ok: false, failure: { class: "transient", reason: "rate_limit", detail: "429", retryAfterMs: 1 }, usage }
          : undefined,
      flaky: { "issues.createComment": 1, "checks.create": 1 },
    });
    expectReplayed(r);
    expect(r.queue.jobs.map((j) => j.jobId)).toContain(`${runId}:build:impl:a2`);
    expect(r.journal.some((e) => (e.event as Event).type === "effect.failed")).toBe(true);
    expect(r.onDisk).toMatchObject({ phase: "gated", pending: [] });
    expect(r.onDisk.gate?.checkRunId).toBeDefined();
  });

  it("rebuilds run.json after an escalation: a worker reports blocked", async () => {
    const r = await runScenario({
      script: (job) =>
        job.kind === "build" && job.subtask.id === "impl"
          ? (() => {
              const out = defaultOutcome(job);
              return out.ok && out.output.kind === "build" ? { ok: true, output: { kind: "build", result: { ...out.output.result, status: "blocked" } } } : out;
            })()
          : undefined,
    });
    expectReplayed(r);
    expect(r.onDisk.phase).toBe("escalated");
    expect(r.onDisk.pending).toEqual([]);
    expect(r.github.calls.map((c) => c.method)).toEqual(expect.arrayContaining(["issues.addLabels", "issues.addAssignees", "checks.create"]));
  });

  it("rebuilds run.json after an invalid config", async () => {
    const r = await runScenario({ config: { errors: ["`budget.usd`: expected number, received string"] } });
    expectReplayed(r);
    expect(r.onDisk.phase).toBe("rejected");
    expect(r.onDisk.pending).toEqual([]);
  });

  it("rebuilds run.json after two plans that fail their checks", async () => {
    const bad: Plan = { ...plan, subtasks: plan.subtasks.map((s) => ({ ...s, role: "review" as const })) };
    const r = await runScenario({ script: (job) => (job.kind === "plan" ? { ok: true, output: { kind: "plan", plan: bad, baseSha: "base0", usage } } : undefined) });
    expectReplayed(r);
    expect(r.onDisk).toMatchObject({ phase: "escalated", planRejections: 2 });
    expect(r.queue.jobs.map((j) => j.jobId)).toEqual([`${runId}:plan:a1`, `${runId}:plan:a2`]);
  });

  it("rebuilds run.json across an approval and a budget that runs out", async () => {
    const config = RepoConfigSchema.parse({ approval: { always: true }, budget: { usd: 0.05, jobUsd: 0.02, pauseAt: 0.85 } });
    const r = await runScenario({ config, then: [{ type: "plan.approved", runId, at: "", by: "maintainer" }] });
    expectReplayed(r);
    expect(r.onDisk.approvedBy).toBe("maintainer");
    expect(r.onDisk).toMatchObject({ phase: "escalated", failure: { reason: "budget_exhausted" } });
  });
});

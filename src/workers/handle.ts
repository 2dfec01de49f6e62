import {
  PlanSchema,
  ReviewReportSchema,
  WorkerReportSchema,
  type ReviewReport,
  type WorkerReport,
  redact,
  classifyFailure,
  type CommandOutcome,
  type Failure,
  type Job,
  type JobOutcome,
  type JobProgress,
  type Result,
  type SubtaskRole,
} from "../domain/index.js";
import type { ChatModel } from "../models/types.js";
import type { Workspace } from "../workspace/workspace.js";
import type { SandboxOutcome, SandboxRequest } from "../workspace/types.js";
import { join } from "node:path";
import type { z } from "zod";
import { runAgent, type AgentOutcome } from "./agent-loop.js";
import { reviewJob } from "./review.js";
import { checkIntegrity } from "./integrity.js";
import { runClaudeCode } from "./cli/claude-code.js";
import { runCodex } from "./cli/codex.js";
import type { Endpoint } from "../models/route.js";
import { runGit } from "../workspace/git.js";
import { plannerTask, builderTask } from "./prompt.js";
import { quoteUntrusted } from "../domain/index.js";
import type { RoleCard, RoleCards, RoleName } from "./role-card.js";
import { buildTools } from "./tools.js";
import { outsideAllowance, defaultTestPaths } from "./allowance.js";
import type { PreparedEnvironment, SetupSpec } from "../workspace/setup.js";

export interface EnvironmentJob {
  repo: { owner: string; name: string; installationId: number };
  sha: string;
  baseSha?: string;
  worktree: string;
  signal?: AbortSignal;
}

export interface JobHandlerDeps {
  workspace: Workspace;
  cards: RoleCards;
  modelFor(route: string): ChatModel;
  sandbox(request: SandboxRequest): Promise<SandboxOutcome>;
  commandTimeoutMs: number;
  /** Values that must never leave the runner (keys, tokens), for redaction. */
  secrets: readonly string[];
  author: { name: string; email: string };
  /** Where CLI agents get their private scratch dirs (HOME, config); not under /tmp, as Codex needs. */
  scratchDir: string;
  /** Credentials and base URL for a route, for CLI agents (from the operator's settings). */
  endpointFor(route: string): Endpoint;
  /** Extra read-only host paths for toolchains outside /usr, shown to CLI agents' sandboxes too. */
  toolchains?: readonly string[];
  /** The setup phase (installs or restores dependencies); absent, commands run without any. */
  prepareEnvironment?(job: EnvironmentJob, spec: SetupSpec): Promise<PreparedEnvironment>;
  /** Aborts when the monitor stops the job (no progress): the agent loop ends at once. */
  stop?: AbortSignal;
  /** Told after every turn of an agent; kept by the store for the monitor and people. */
  onProgress?(runId: string, progress: JobProgress): void;
}

const roleOf: Record<SubtaskRole, RoleName> = { generate: "generator", test: "tester", review: "reviewer" };
/** What goes back from a command: enough to see why it failed, not the whole log. */
const outputTailChars = 4000;
const maxCommandOutputBytes = 1024 * 1024;

/** job → Result, on a runner. Never throws: every failure comes back typed. */
export function createJobHandler(deps: JobHandlerDeps): (job: Job, signal?: AbortSignal) => Promise<JobOutcome> {
  return async (job, signal) => {
    const withStop = signal ? { ...deps, stop: signal } : deps;
    try {
      if (job.kind === "plan") return await planJob(job, withStop);
      if (job.kind === "build") return await buildJob(job, withStop);
      if (job.kind === "review") return await reviewJob(job, withStop);
      return await scrutinyJob(job, withStop);
    } catch (error) {
      return { ok: false, failure: classifyFailure(error), usage: [] };
    }
  };
}

async function planJob(job: Extract<Job, { kind: "plan" }>, deps: JobHandlerDeps): Promise<JobOutcome> {
  const { workspace } = deps;
  await workspace.syncMirror(job.repo);
  const baseSha = await workspace.resolveRef(job.repo, `refs/heads/${job.defaultBranch}`);
  const worktree = await workspace.addWorktree(job.repo, baseSha, `${job.issue.number}-plan-a${job.attempt}`);
  try {
    const card = cardFor(deps.cards, "planner");
    const tools = buildTools("planner", card.tools, { worktree, ownedFiles: [], testPaths: [], runCommand: refuseRun });
    const outcome = await runAgent({
      model: deps.modelFor(job.route ?? card.model),
      system: await systemPrompt(card, (name) => workspace.readFileAt(job.repo, baseSha, name)),
      task: withNotes(plannerTask(job.issue), job),
      tools,
      finish: { schema: PlanSchema, description: "Submit the plan: subtasks and the validation contract." },
      maxTurns: job.limits?.maxTurns ?? card.maxTurns,
      signal: jobSignal(deps, timeoutOf(job, card)),
      ...(job.cap && { cap: job.cap }),
      onProgress: reporter(deps, job, undefined).onProgress,
    });
    if (!outcome.ok) return { ok: false, failure: outcome.failure, usage: outcome.usage };
    return { ok: true, output: { kind: "plan", plan: outcome.output, baseSha, usage: outcome.usage } };
  } finally {
    await workspace.removeWorktree(worktree);
  }
}

async function buildJob(job: Extract<Job, { kind: "build" }>, deps: JobHandlerDeps): Promise<JobOutcome> {
  const { workspace } = deps;
  const { subtask } = job;
  const role = roleOf[subtask.role];
  await workspace.syncMirror(job.repo);
  const worktree = await workspace.addWorktree(job.repo, job.fromSha, `${job.issue.number}-${subtask.id}-a${job.attempt}`);
  try {
    const card = cardFor(deps.cards, role);
    const progress = reporter(deps, job, worktree);
    const commands: { cmd: string; exitCode: number; ms: number }[] = [];
    // Writers run commands, so their dependencies are installed first; a reviewer only reads.
    const environment = role === "reviewer" ? noEnvironment : await environmentFor(deps, { repo: job.repo, sha: job.fromSha, baseSha: job.baseSha, worktree }, job.setup);
    if (!environment.ok) return { ok: false, failure: setupFailure(environment, deps.secrets), usage: [] };
    const tools = buildTools(role, card.tools, {
      worktree,
      ownedFiles: subtask.files,
      testPaths: defaultTestPaths,
      runCommand: async (command) => {
        const outcome = await deps.sandbox({ cwd: worktree, command, ...commandContext(deps, environment) });
        commands.push({ cmd: command, exitCode: outcome.exitCode, ms: outcome.ms });
        return { ...outcome, output: redact(outcome.output, deps.secrets) };
      },
    });
    const system = await systemPrompt(card, (name) => workspace.readFileAt(job.repo, job.baseSha, name));
    const task = withNotes(builderTask(subtask, job.plan, job.issue), job);
    const route = job.route ?? card.model;
    const runtime = job.runtime ?? card.runtime;
    const loop = <T>(finish: { schema: z.ZodType<T>; description: string }) =>
      runAgent({
        model: deps.modelFor(route),
        system,
        task,
        tools,
        finish,
        maxTurns: job.limits?.maxTurns ?? card.maxTurns,
        signal: jobSignal(deps, timeoutOf(job, card)),
        ...(job.cap && { cap: job.cap }),
        onProgress: progress.onProgress,
      });
    const outcome =
      runtime === "builtin"
        ? role === "reviewer"
          ? asWorkerReport(await loop({ schema: ReviewReportSchema, description: "Submit your review: verdict, findings, assertion checks." }))
          : await loop({ schema: WorkerReportSchema, description: "Report the outcome with an honest handoff." })
        : await (runtime === "claude-code" ? runClaudeCode : runCodex)({
            role,
            worktree,
            jobDir: join(deps.scratchDir, `${job.repo.owner}-${job.repo.name}-${job.issue.number}-${subtask.id}-a${job.attempt}`),
            system,
            task,
            model: deps.endpointFor(route).model,
            endpoint: deps.endpointFor(route),
            maxTurns: job.limits?.maxTurns ?? card.maxTurns,
            timeoutMs: timeoutOf(job, card),
            allowedCommands: role === "generator" || role === "tester" ? withDetectedTest(job.allowedCommands, environment) : [],
            onProgress: progress.onProgress,
            mounts: environment.mounts,
            env: environment.env,
            ...(deps.toolchains && { toolchains: deps.toolchains }),
            ...(deps.stop && { signal: deps.stop }),
          });
    await progress.flush();
    if (!outcome.ok) return { ok: false, failure: outcome.failure, usage: outcome.usage };
    // A stop that came as the agent finished still wins: nothing is pushed after it.
    if (deps.stop?.aborted) return { ok: false, failure: stoppedFailure(deps.stop), usage: outcome.usage };
    const commit = await workspace.commitAll(
      worktree,
      `${subtask.title}\n\nShopfloor run ${job.runId}, subtask ${subtask.id} (${subtask.role}).`,
      deps.author,
    );
    const changed = commit?.filesChanged ?? [];
    // `run` can write anywhere in the worktree; what is committed must still be the role's to write.
    const stray = outsideAllowance(role, changed, subtask.files);
    if (stray.length > 0) {
      return {
        ok: false,
        failure: { class: "permanent", reason: "policy_violation", detail: `subtask ${subtask.id} changed files it does not own: ${stray.join(", ")}` },
        usage: outcome.usage,
      };
    }
    let landed = commit?.sha ?? job.fromSha;
    if (deps.stop?.aborted) return { ok: false, failure: stoppedFailure(deps.stop), usage: outcome.usage };
    if (commit && job.integrate) {
      const landing = await workspace.integrate(job.repo, commit.sha, job.fromSha, job.branch, deps.author);
      if ("conflicts" in landing) {
        return {
          ok: false,
          failure: { class: "permanent", reason: "conflict", detail: `subtask ${subtask.id} conflicts on the run branch in ${landing.conflicts.join(", ")}` },
          usage: outcome.usage,
        };
      }
      landed = landing.sha;
    } else if (commit) {
      await workspace.push(job.repo, commit.sha, job.branch, { ownEmail: deps.author.email });
    }
    const result: Result = {
      ...outcome.output,
      artifact: { kind: "diff", headSha: landed, diffStat: commit?.diffStat ?? "", filesChanged: changed },
      usage: outcome.usage,
      trace: outcome.trace,
    };
    // The worker's account of commands is checked against what the runner saw it run.
    result.handoff = { ...result.handoff, commands: commands.length > 0 ? commands : result.handoff.commands };
    return { ok: true, output: { kind: "build", result } };
  } finally {
    await workspace.removeWorktree(worktree);
  }
}

async function scrutinyJob(job: Extract<Job, { kind: "scrutiny" }>, deps: JobHandlerDeps): Promise<JobOutcome> {
  const { workspace } = deps;
  await workspace.syncMirror(job.repo);
  const headSha = job.branch ? await workspace.resolveRef(job.repo, `refs/heads/${job.branch}`) : job.headSha;
  const worktree = await workspace.addWorktree(job.repo, headSha, `${job.runId.split("#")[1]}-scrutiny-${job.jobId.split(":").slice(-2).join("-")}`);
  try {
    const environment = await environmentFor(deps, { repo: job.repo, sha: headSha, ...(job.baseSha && { baseSha: job.baseSha }), worktree }, job.setup);
    const commands: CommandOutcome[] = [];
    const step = environment.install;
    if (step) {
      commands.push({
        name: "install",
        cmd: step.cmd,
        exitCode: step.exitCode,
        ms: step.ms,
        timedOut: step.timedOut,
        outputTail: redact(step.output, deps.secrets).slice(-outputTailChars),
        ...(step.restored && { restored: true }),
      });
    }
    for (const { name, cmd } of scrutinyCommands(job, environment)) {
      if (!environment.ok) {
        commands.push({ name, cmd, exitCode: -1, ms: 0, timedOut: false, outputTail: "", skipped: "the install step failed" });
        continue;
      }
      const outcome = await deps.sandbox({ cwd: worktree, command: cmd, ...commandContext(deps, environment) });
      commands.push({
        name,
        cmd,
        exitCode: outcome.exitCode,
        ms: outcome.ms,
        timedOut: outcome.timedOut,
        outputTail: redact(outcome.output, deps.secrets).slice(-outputTailChars),
      });
    }
    const integrity =
      job.baseSha && job.defaultBranch
        ? await checkIntegrity({
            mirror: workspace.mirrorPath(job.repo),
            baseSha: job.baseSha,
            headSha,
            defaultBranchTip: await workspace.resolveRef(job.repo, `refs/heads/${job.defaultBranch}`),
            protectedPaths: job.protectedPaths,
            testPaths: defaultTestPaths,
          })
        : undefined;
    return { ok: true, output: { kind: "scrutiny", commands, headSha, ...(integrity && { integrity }) } };
  } finally {
    await workspace.removeWorktree(worktree);
  }
}

const noEnvironment: PreparedEnvironment = { ok: true, mounts: [], env: {} };

function environmentFor(deps: JobHandlerDeps, job: EnvironmentJob, spec: SetupSpec): Promise<PreparedEnvironment> {
  if (!deps.prepareEnvironment) return Promise.resolve(noEnvironment);
  return deps.prepareEnvironment({ ...job, ...(deps.stop && { signal: deps.stop }) }, spec);
}

/** What every command after setup runs with: the installed dependencies, no network, the job's stop. */
function commandContext(deps: JobHandlerDeps, environment: PreparedEnvironment) {
  return {
    timeoutMs: deps.commandTimeoutMs,
    maxOutputBytes: maxCommandOutputBytes,
    env: environment.env,
    mounts: environment.mounts,
    ...(deps.stop && { signal: deps.stop }),
  };
}

/** The job's commands, with the detected test command after lint when the repository sets none. */
function scrutinyCommands(job: Extract<Job, { kind: "scrutiny" }>, environment: PreparedEnvironment): { name: string; cmd: string }[] {
  const test = environment.test;
  if (!job.detectTest || !test) return job.commands;
  // A contract command that is the test command runs once, as the test.
  const rest = job.commands.filter((c) => c.cmd !== test);
  const at = rest.filter((c) => c.name === "lint").length;
  return [...rest.slice(0, at), { name: "test", cmd: test }, ...rest.slice(at)];
}

function withDetectedTest(commands: readonly string[], environment: PreparedEnvironment): string[] {
  return environment.test && !commands.includes(environment.test) ? [...commands, environment.test] : [...commands];
}

/** A failed install, named with its output, for the handoff. */
function setupFailure(environment: PreparedEnvironment, secrets: readonly string[]): Failure {
  const step = environment.install;
  const how = step ? (step.timedOut ? "timed out" : `exited ${step.exitCode}`) : "failed";
  const tail = step ? redact(step.output, secrets).slice(-outputTailChars) : "";
  return { class: "permanent", reason: "setup_failed", detail: `the install step \`${step?.cmd ?? "install"}\` ${how}:\n${tail}` };
}

function cardFor(cards: RoleCards, role: RoleName): RoleCard {
  const card = cards.get(role);
  if (!card) throw new Error(`no role card for ${role} in agents/`);
  return card;
}

/**
 * The card's prompt, plus the repo's own agent notes read at the default branch's commit (never
 * from the run's own changes, so a worker cannot rewrite the next one's instructions), quoted as data.
 */
async function systemPrompt(card: RoleCard, readAtBase: (path: string) => Promise<string | undefined>): Promise<string> {
  for (const name of ["AGENTS.md", "CLAUDE.md"]) {
    const text = await readAtBase(name);
    if (text !== undefined) return `${card.prompt}\n\n${quoteUntrusted(`the repository's ${name}`, text.slice(0, 20_000))}`;
  }
  return card.prompt;
}

type Progress = { turn: number; toolCalls: number; costUsd?: number; tokens?: number };

/** Progress after every turn; `flush` waits for the last report so it counts the worktree before the commit. */
function reporter(deps: JobHandlerDeps, job: Job, worktree: string | undefined) {
  let last: Promise<void> = Promise.resolve();
  const report = (p: Progress, filesChanged: number) =>
    deps.onProgress?.(job.runId, {
      jobId: job.jobId,
      at: new Date().toISOString(),
      turn: p.turn,
      toolCalls: p.toolCalls,
      filesChanged,
      ...(p.costUsd !== undefined && { costUsd: p.costUsd }),
      ...(p.tokens !== undefined && { tokens: p.tokens }),
    });
  return {
    onProgress(p: Progress) {
      if (!deps.onProgress) return;
      if (!worktree) return report(p, 0);
      last = last.then(() =>
        runGit(["status", "--porcelain", "--untracked-files=all"], { cwd: worktree }).then(
          ({ stdout }) => report(p, stdout.split("\n").filter(Boolean).length),
          () => report(p, 0),
        ),
      );
    },
    flush: () => last,
  };
}

/**
 * A `review` subtask of the plan answers like a reviewer; its verdict becomes the subtask's
 * status (approve → ok, otherwise blocked) and its findings the handoff's issues.
 */
function asWorkerReport(outcome: AgentOutcome<ReviewReport>): AgentOutcome<WorkerReport> {
  if (!outcome.ok) return outcome;
  const r = outcome.output;
  return {
    ...outcome,
    output: {
      status: r.verdict === "approve" ? "ok" : "blocked",
      confidence: r.confidence,
      summary: r.summary,
      handoff: {
        completed: r.assertionChecks.map((c) => `${c.id} ${c.holds ? "holds" : "does not hold"}: ${c.evidence}`),
        remaining: [],
        commands: [],
        issues: r.findings.map((f) => `[${f.severity}] ${f.file}:${f.line} ${f.body}`),
        followedProcedure: true,
      },
    },
  };
}

function timeoutOf(job: Job, card: RoleCard): number {
  return job.kind !== "scrutiny" && job.limits?.timeoutMinutes !== undefined ? job.limits.timeoutMinutes * 60_000 : card.timeoutMs;
}

function stoppedFailure(signal: AbortSignal): Failure {
  const why = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? "stopped");
  return { class: "transient", reason: "worker_lost", detail: `stopped: ${why}` };
}

function jobSignal(deps: JobHandlerDeps, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return deps.stop ? AbortSignal.any([timeout, deps.stop]) : timeout;
}

/** A retried job learns what failed last time; a re-asked plan learns what the checker refused. */
function withNotes(task: string, job: Job): string {
  const notes: string[] = [];
  if (job.kind === "plan" && job.feedback?.length) {
    notes.push(`Your previous plan was rejected by the plan checker. Fix every point:\n${job.feedback.map((f) => `- ${f}`).join("\n")}`);
  }
  if (job.reflection) notes.push(`This is attempt ${job.attempt}. About the previous attempt:\n${job.reflection}`);
  return notes.length > 0 ? `${task}\n\n${notes.join("\n\n")}` : task;
}

async function refuseRun(): Promise<SandboxOutcome> {
  return { exitCode: 126, ms: 0, output: "this role may not run commands", timedOut: false, truncated: false };
}

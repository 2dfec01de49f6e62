import path from "node:path";
import {
  ReviewReportSchema,
  classifyFailure,
  type Failure,
  type Job,
  type JobOutcome,
  type ReviewReport,
} from "../domain/index.js";
import { diffBetween, parseDiff, type DiffFile } from "../workspace/diff.js";
import type { SandboxOutcome } from "../workspace/types.js";
import { runAgent } from "./agent-loop.js";
import type { JobHandlerDeps } from "./handle.js";
import { reviewTask } from "./review-prompt.js";
import { buildTools } from "./tools.js";

/**
 * A review job: one reviewer reads the change base..head with fresh context and read-only tools,
 * and returns its verdict and findings. Findings are checked against the diff here, so an
 * approval can never rest on a review that talks about files the change does not touch.
 */

export type ReviewJob = Extract<Job, { kind: "review" }>;

/** What a review needs of the runner: no sandbox, no git author, no push. */
export type ReviewDeps = Pick<JobHandlerDeps, "workspace" | "cards" | "modelFor" | "onProgress" | "stop">;

/** Never throws: every failure comes back typed. */
export async function reviewJob(job: ReviewJob, deps: ReviewDeps): Promise<JobOutcome> {
  try {
    return await review(job, deps);
  } catch (error) {
    return { ok: false, failure: classifyFailure(error), usage: [] };
  }
}

async function review(job: ReviewJob, deps: ReviewDeps): Promise<JobOutcome> {
  const { workspace } = deps;
  const card = deps.cards.get("reviewer");
  if (!card) throw new Error("no role card for reviewer in agents/");
  const mirror = await workspace.syncMirror(job.repo);
  const label = `${issueOf(job.runId)}-review-${job.reviewer}-r${job.round}-a${job.attempt}`;
  const worktree = await workspace.addWorktree(job.repo, job.headSha, label);
  try {
    const diffText = await diffBetween(mirror, job.baseSha, job.headSha);
    const diff = parseDiff(diffText);
    // Conventions are read at the base: the change under review must not instruct its reviewer.
    const conventions =
      (await workspace.readFileAt(job.repo, job.baseSha, "AGENTS.md")) ?? (await workspace.readFileAt(job.repo, job.baseSha, "CLAUDE.md"));
    const route = job.route ?? card.model;
    const task = reviewTask(job.plan, diffText, conventions?.slice(0, 20_000), { round: job.round - 1, findings: job.priorFindings });
    const outcome = await runAgent({
      model: deps.modelFor(route),
      system: card.prompt,
      task: job.reflection ? `${task}\n\nThis is attempt ${job.attempt}. About the previous attempt:\n${job.reflection}` : task,
      tools: buildTools("reviewer", card.tools, { worktree, ownedFiles: [], testPaths: [], runCommand: refuseRun }),
      finish: {
        schema: ReviewReportSchema,
        description: "Submit the review: verdict, summary, findings on changed lines, and a check of each review assertion.",
      },
      maxTurns: job.limits?.maxTurns ?? card.maxTurns,
      signal: timeoutSignal(job.limits?.timeoutMinutes !== undefined ? job.limits.timeoutMinutes * 60_000 : card.timeoutMs, deps.stop),
      ...(job.cap && { cap: job.cap }),
      onProgress: (p) =>
        deps.onProgress?.(job.runId, { jobId: job.jobId, at: new Date().toISOString(), filesChanged: 0, ...p }),
    });
    if (!outcome.ok) return { ok: false, failure: outcome.failure, usage: outcome.usage };
    const placed = placeFindings(outcome.output, diff);
    if (!placed.ok) return { ok: false, failure: placed.failure, usage: outcome.usage };
    const { report, onDiff } = placed;
    const review = { ...report, reviewer: job.reviewer, route, headSha: job.headSha, onDiff, usage: outcome.usage, trace: outcome.trace };
    return { ok: true, output: { kind: "review", review } };
  } finally {
    await workspace.removeWorktree(worktree);
  }
}

/**
 * Checks each finding's file against the diff and says whether its line can carry an inline
 * comment. A finding on a file the change does not touch voids the review: the reviewer read
 * something else than the change, and its verdict cannot be trusted either way.
 */
export function placeFindings(
  report: ReviewReport,
  diff: readonly DiffFile[],
): { ok: true; report: ReviewReport; onDiff: boolean[] } | { ok: false; failure: Failure } {
  const byPath = new Map<string, DiffFile>();
  for (const f of diff) {
    byPath.set(f.path, f);
    // A renamed file's old name is part of the change too, though no line of it is at the head.
    if (f.oldPath && !byPath.has(f.oldPath)) byPath.set(f.oldPath, { ...f, rightLines: [] });
  }
  const findings = report.findings.map((f) => ({ ...f, file: path.posix.normalize(f.file) }));
  const stray = findings.find((f) => !byPath.has(f.file));
  if (stray) {
    const detail = `finding on ${stray.file}, which the change does not touch`;
    return { ok: false, failure: { class: "permanent", reason: "invalid_output", detail } };
  }
  const onDiff = findings.map((f) => byPath.get(f.file)!.rightLines.includes(f.line));
  return { ok: true, report: { ...report, findings }, onDiff };
}

/** "owner/repo#12" → "12"; the worktree label only needs to be unique per repo. */
function issueOf(runId: string): string {
  return runId.split("#")[1] ?? runId;
}

async function refuseRun(): Promise<SandboxOutcome> {
  return { exitCode: 126, ms: 0, output: "the reviewer may not run commands", timedOut: false, truncated: false };
}

function timeoutSignal(ms: number, stop: AbortSignal | undefined): AbortSignal {
  return stop ? AbortSignal.any([AbortSignal.timeout(ms), stop]) : AbortSignal.timeout(ms);
}

/**
 * What a chaos trial must leave behind, as a person would see it on GitHub and on the origin,
 * and what the job clock says about jobs running twice at once.
 */
import { runGit } from "../../src/workspace/git.js";
import type { JournalEntry } from "../../src/store/run-store.js";
import { goodFarewell } from "../e2e/scenario.js";
import { owner, repoName, type Cluster } from "./cluster.js";
import type { FakeGitHubState } from "./github.js";
import type { JobClockLine } from "./job-clock.js";

export const runIdOf = (issue: number): string => `${owner}/${repoName}#${issue}`;

/** One run of a trial, checked: exactly one branch, PR, progress comment and concluded gate check. */
export async function checkRun(cluster: Cluster, issue: number, gh: FakeGitHubState): Promise<string[]> {
  const runId = runIdOf(issue);
  const problems: string[] = [];
  const run = await cluster.readRun(runId);
  if (run?.phase !== "gated") problems.push(`phase ${run?.phase ?? "none"}${run?.failure ? ` (${run.failure.reason}: ${run.failure.detail ?? ""})` : ""}, expected gated`);
  const refs = (await runGit(["for-each-ref", "--format=%(refname:short) %(objectname)", `refs/heads/shopfloor/${issue}-*`], { cwd: cluster.originBare })).stdout
    .split("\n")
    .filter((l) => l.trim() !== "");
  if (refs.length !== 1) problems.push(`${refs.length} branches on origin, expected 1: ${refs.join(", ")}`);
  const [branch, tip] = (refs[0] ?? "").split(" ");
  if (branch) {
    const file = await runGit(["show", `${branch}:src/farewell.js`], { cwd: cluster.originBare }).then((r) => r.stdout, () => undefined);
    if (file !== goodFarewell) problems.push(`${branch} does not hold the generated src/farewell.js`);
  }
  const pulls = gh.pulls.filter((p) => p.head.startsWith(`shopfloor/${issue}-`));
  if (pulls.length !== 1) problems.push(`${pulls.length} pull requests, expected 1`);
  const marker = `<!-- shopfloor:progress:${runId} -->`;
  const progress = gh.comments.flatMap(([, list]) => list).filter((c) => c.body.includes(marker));
  if (progress.length !== 1) problems.push(`${progress.length} progress comments, expected 1`);
  const checks = gh.checkRuns.filter((c) => c.external_id === runId);
  if (checks.length !== 1) problems.push(`${checks.length} gate check runs, expected 1`);
  const check = checks[0];
  if (check) {
    if (check.status !== "completed" || !check.conclusion) problems.push(`gate check ${check.status}/${check.conclusion}, expected completed`);
    else if (check.conclusion !== "success") problems.push(`gate concluded ${check.conclusion}, expected success`);
    if (tip && check.head_sha !== tip) problems.push(`gate check on ${short(check.head_sha)}, the branch tip is ${short(tip)}`);
    if (progress[0] && check.conclusion && !progress[0].body.includes(`\`${check.conclusion}\``)) problems.push("the progress comment does not show the gate's conclusion");
  }
  for (const pull of pulls) {
    const reviews = (gh.reviews ?? []).filter((r) => r.pull === pull.number);
    const stale = reviews.filter((r) => tip && r.commit_id !== tip);
    if (stale.length > 0) problems.push(`${stale.length} reviews on a commit that is not the branch tip`);
    const perCommit = new Map<string, number>();
    for (const r of reviews) perCommit.set(r.commit_id, (perCommit.get(r.commit_id) ?? 0) + 1);
    for (const [sha, n] of perCommit) if (n > 2) problems.push(`${n} reviews on ${short(sha)}, expected one per reviewer (2)`);
  }
  if (problems.length > 0) problems.push(`journal tail: ${journalTail(await cluster.journal(runId))}`);
  return problems.map((p) => `#${issue}: ${p}`);
}

export interface JobSpan {
  jobId: string;
  pid: number;
  start: number;
  /** When the handler returned, or the process was killed; Infinity while it is still running. */
  end: number;
}

/** Pairs each process's start and end lines per job; a start with no end ends at its process's kill. */
export function jobSpans(lines: JobClockLine[], killedAt: ReadonlyMap<number, number>): JobSpan[] {
  const open = new Map<string, JobClockLine[]>();
  const spans: JobSpan[] = [];
  for (const line of lines) {
    const key = `${line.pid} ${line.jobId}`;
    if (line.edge === "start") open.set(key, [...(open.get(key) ?? []), line]);
    else {
      const started = open.get(key)?.shift();
      if (started) spans.push({ jobId: line.jobId, pid: line.pid, start: started.at, end: line.at });
    }
  }
  for (const starts of open.values()) {
    for (const s of starts) spans.push({ jobId: s.jobId, pid: s.pid, start: s.at, end: Math.max(s.at, killedAt.get(s.pid) ?? Number.POSITIVE_INFINITY) });
  }
  return spans;
}

/**
 * Jobs that ran twice at the same time: the same job id on two processes (or twice on one), or
 * two attempts of the same piece of work (`…a1` and `…a2`), which race on the branch just the same.
 */
export function overlaps(spans: JobSpan[], t0: number): string[] {
  const problems: string[] = [];
  const work = (jobId: string) => jobId.replace(/a\d+$/, "");
  const byWork = new Map<string, JobSpan[]>();
  for (const s of spans) byWork.set(work(s.jobId), [...(byWork.get(work(s.jobId)) ?? []), s]);
  for (const [key, list] of byWork) {
    const sorted = [...list].sort((a, b) => a.start - b.start);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        const [a, b] = [sorted[i]!, sorted[j]!];
        if (b.start >= a.end) continue;
        const label = key.slice(key.indexOf("#")).replace(/:$/, "");
        const what = a.jobId === b.jobId ? `job ${a.jobId} ran twice at once` : `${label}: attempts ${a.jobId.slice(key.length)} and ${b.jobId.slice(key.length)} ran at once`;
        problems.push(`${what}: pid ${a.pid} ${span(a, t0)} and pid ${b.pid} ${span(b, t0)}`);
      }
    }
  }
  return problems;
}

/** Jobs of finished runs that are still running: spending after the end. */
export function stillRunning(spans: JobSpan[]): string[] {
  return spans.filter((s) => !Number.isFinite(s.end)).map((s) => `job ${s.jobId} still running on pid ${s.pid} after its run finished`);
}

function span(s: JobSpan, t0: number): string {
  return `[${s.start - t0}, ${Number.isFinite(s.end) ? s.end - t0 : "…"}] ms`;
}

function short(sha: string): string {
  return sha.slice(0, 8);
}

/** The last entries of a run's journal, one short line each: what a person reads first. */
function journalTail(entries: JournalEntry[], lines = 10): string {
  const keyTail = (key: string) => key.slice(key.indexOf(":") + 1);
  return (
    entries
      .slice(-lines)
      .map((e) => {
        const event = e.event as { type: string; key?: string; failure?: { reason?: string } };
        const effects = e.effects.map(keyTail).join(",");
        return `#${e.seq} ${event.type}${event.key ? `(${keyTail(event.key)})` : ""}${event.failure?.reason ? ` ${event.failure.reason}` : ""} → ${e.phase}${effects ? ` [${effects}]` : ""}${e.note ? ` "${e.note}"` : ""}`;
      })
      .join(" | ") || "(empty)"
  );
}

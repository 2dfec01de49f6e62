import { RunSchema, terminalPhases, type Run } from "../domain/index.js";
import { isWatched } from "../store/run-index.js";
import type { RunStore } from "../store/run-store.js";

/** How often the monitor prunes: retention is counted in days, so hourly is prompt enough. */
export const PRUNE_EVERY_MS = 3_600_000;

/** What cleaning a run's workspace left behind, and why (unpushed commits are never removed). */
export interface WorkspaceCleanup {
  kept: { path: string; reason: string }[];
}

/** Removes a finished run's worktrees (the orchestrator may not touch git: index.ts passes this in). */
export type CleanWorkspace = (run: Run) => Promise<WorkspaceCleanup>;

export interface PruneDeps {
  store: RunStore;
  retentionDays: number;
  cleanWorkspace?: CleanWorkspace;
  now: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * A finished run whose story has ended: nothing pending, no PR that a person may still merge
 * or close, and nothing has happened to it for the retention period. Pure.
 */
export function isPrunable(run: Run, cutoffMs: number): boolean {
  return terminalPhases.includes(run.phase) && run.pending.length === 0 && !isWatched(run) && Date.parse(run.updatedAt) < cutoffMs;
}

/** A run's history: what pruning drops from its notes (the journal goes too, in the store). */
const HISTORY_FIELDS = ["plan", "subtasks", "scrutiny", "usage", "attempts", "reviews", "ci", "integrity", "retryNote", "pr", "pushedShas", "stoppedJobs", "unexplainedPush"] as const satisfies readonly (keyof Run)[];

/**
 * The notes a pruned run keeps. Its history goes (plan, results, reviews, attempts, spend, CI,
 * the issue body, the gate's checklist); everything else stays, so `decide` treats a late event
 * exactly as before: the phase, `deliveries` (a redelivery is still recognised as one),
 * `effectSeq` (a new run of the issue never reuses an effect key, so no check run or job id is
 * taken for an old one), the progress comment (a relabel updates the same sticky comment), the
 * config and the failure. Fields are dropped by name, so one added later is kept until someone
 * decides it is history. The PR goes: the run is no longer looked up by it. Pure.
 */
export function compactRun(run: Run): Run {
  const kept: Partial<Run> = { ...run, issue: { ...run.issue, body: "" }, ...(run.gate && { gate: { ...run.gate, items: [] } }) };
  for (const field of HISTORY_FIELDS) delete kept[field];
  // Parsing fills the dropped fields with their empty defaults.
  return RunSchema.parse(kept);
}

/**
 * Retention: finished runs untouched for `retentionDays` keep compacted notes only; their
 * journal and progress go, and their worktrees unless one holds commits never pushed — then
 * the whole run stays (its notes explain the work) and a person is told in the log, each pass.
 * Candidates come from the store's retention index, so a pass costs what expired, not what
 * history holds. Returns how many runs were pruned.
 */
export async function pruneRuns(deps: PruneDeps): Promise<number> {
  const { store, log } = deps;
  if (deps.retentionDays <= 0) return 0;
  const cutoffMs = deps.now - deps.retentionDays * 86_400_000;
  let pruned = 0;
  for (const runId of await store.listPrunableRuns(new Date(cutoffMs).toISOString())) {
    try {
      const outcome = await store.withRunLock(runId, async (hold) => {
        const { run, version } = await store.loadVersioned(runId);
        if (!run) return "gone";
        // Fenced like every save: a pass that lost the run's lock writes nothing.
        const fence = { token: hold.token, version };
        if (!isPrunable(run, cutoffMs)) {
          // The index entry was stale (a kill mid-save): saving the same notes rewrites it from them.
          await store.save(run, fence);
          return "kept";
        }
        const kept = (await deps.cleanWorkspace?.(run))?.kept ?? [];
        if (kept.length > 0) {
          log.warn({ runId, kept }, "finished run kept: its worktrees hold commits that were never pushed; remove them by hand once saved");
          return "kept";
        }
        return (await store.pruneRun(compactRun(run), fence)) === "written" ? "pruned" : "kept";
      });
      if (outcome === "pruned") pruned++;
    } catch (err) {
      log.warn({ err, runId }, "pruning a run failed; the next pass tries again");
    }
  }
  if (pruned > 0) log.info({ pruned, retentionDays: deps.retentionDays }, "pruned finished runs past retention");
  return pruned;
}

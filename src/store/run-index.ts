import { z } from "zod";
import { PhaseSchema, terminalPhases, type Phase } from "../domain/index.js";

/**
 * What the indexes need of a run's notes. Parsed on its own (zod drops the rest), so a store
 * reading the previous notes to learn which entries to drop does not validate a whole run.
 */
export const IndexedNotesSchema = z.object({
  id: z.string(),
  repo: z.object({ owner: z.string(), name: z.string() }),
  phase: PhaseSchema,
  updatedAt: z.string(),
  pr: z.object({ number: z.number().int() }).optional(),
  pending: z.array(z.unknown()).default([]),
});
export type IndexedNotes = z.infer<typeof IndexedNotesSchema>;

/** After these a run's PR, if it has one, can no longer change anything for it. */
const settledPhases: readonly Phase[] = ["done", "cancelled", "rejected"];

/**
 * Work left: not finished, or finished with effects still unanswered (the final progress
 * comment, the gate check of an escalation). The monitor and the engine's restart read these.
 */
export function hasWorkLeft(run: Pick<IndexedNotes, "phase" | "pending">): boolean {
  return !terminalPhases.includes(run.phase) || run.pending.length > 0;
}

/**
 * Watched: a PR whose state may still change the run. `gated` and `escalated` are terminal, yet
 * a person may still merge or close their PR (`pr.closed` makes them `done` or `cancelled`), so
 * reconciliation asks GitHub about these, and only these.
 */
export function isWatched(run: Pick<IndexedNotes, "phase" | "pr">): boolean {
  return run.pr !== undefined && !settledPhases.includes(run.phase);
}

/** Key of the PR → run index. GitHub names are case-insensitive, so the key is lower case. */
export function prKey(owner: string, repo: string, prNumber: number): string {
  return `${owner}/${repo}#${prNumber}`.toLowerCase();
}

/** The index entries one run's notes call for. */
export interface RunIndexEntry {
  active: boolean;
  watched: boolean;
  /** The PR → run key, when the run has a PR. */
  pr?: string;
  /** Finished and kept in full: a retention candidate since this time (the notes' `updatedAt`). */
  retainedSince?: string;
}

/** `compacted`: the notes were already pruned, so the run is no longer a retention candidate. */
export function indexEntryOf(run: IndexedNotes, compacted = false): RunIndexEntry {
  const active = hasWorkLeft(run);
  const watched = isWatched(run);
  return {
    active,
    watched,
    ...(run.pr && { pr: prKey(run.repo.owner, run.repo.name, run.pr.number) }),
    ...(!active && !watched && !compacted && { retainedSince: run.updatedAt }),
  };
}

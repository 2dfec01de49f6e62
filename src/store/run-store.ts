import type { Event, JobProgress, Run } from "../domain/index.js";

/** One line of a run's journal: the event, and what `decide` did with it. */
export interface JournalEntry {
  seq: number;
  at: string;
  event: Event;
  effects: string[];
  phase: string | null;
  note?: string;
}

/** A delivery from GitHub turned into an event, kept until the engine has taken it. */
export interface InboxEntry {
  deliveryId: string;
  event: Event;
  /** When the store took it (ms since epoch): deliveries are handed out in arrival order. */
  receivedAt?: number;
}

/** A delivery that kept failing, kept with its last error for an operator to read. */
export interface SetAsideEntry extends InboxEntry {
  error: string;
}

/** What the holder of a run's lock is told while it holds it. */
export interface RunLockHold {
  /** Names this holding: the fence a save presents, so a holder whose lock expired is refused. */
  readonly token: string;
  /** Aborted when the lock is known lost (a renewal refused or unconfirmed past the lease): stop before saving. */
  readonly lost: AbortSignal;
}

/** Run notes with the version they were read at; a run never saved is at version 0. */
export interface VersionedRun {
  run: Run | undefined;
  version: number;
}

/** A fenced save: only the holder `token`, and only if the notes are still at `version`. */
export interface Fence {
  token: string;
  version: number;
}

/** A write refused because the writer no longer holds the run's lock or read notes that changed since. */
export type WriteOutcome = "written" | "stale";

/**
 * Besides the notes, a store keeps indexes, updated by every `save` (see run-index.ts for what
 * each holds), so sweeps, reconciliation and comment lookups cost what the active runs cost,
 * not what history costs. An index may name a run that no longer qualifies (a kill mid-save);
 * it never misses one that does. Readers check the notes they load.
 */
export interface RunStore {
  load(runId: string): Promise<Run | undefined>;
  /** The notes and their version, for a lock holder that will save with a `Fence`. */
  loadVersioned(runId: string): Promise<VersionedRun>;
  /** Without a fence the save is unconditional (tests, tools); with one it is a compare-and-set. */
  save(run: Run, fence?: Fence): Promise<WriteOutcome>;
  /** With `holder`, appended only while that holding of the run's lock is still current. */
  appendJournal(runId: string, entry: Omit<JournalEntry, "seq">, holder?: string): Promise<WriteOutcome>;
  journal(runId: string): Promise<JournalEntry[]>;
  /** Every run ever saved: grows with history, so no sweep should walk it. */
  listRuns(): Promise<string[]>;
  /**
   * A stamp for every run, read without reading the notes: it changes whenever the notes are
   * saved (not when the journal or progress grows), so a reader can keep what it built from
   * notes whose stamp it has seen. Compare stamps for equality only; they carry no order.
   */
  runStamps(): Promise<Map<string, string>>;
  /** Runs with work left: not finished, or finished with effects still unanswered. */
  listActiveRuns(): Promise<string[]>;
  /** Runs whose PR may still change them: a PR, and not `done`, `cancelled` or `rejected`. */
  listWatchedRuns(): Promise<string[]>;
  /** The run whose PR this is (checked against its notes), if any. */
  runForPr(owner: string, repo: string, prNumber: number): Promise<string | undefined>;
  /** Finished, unwatched runs kept in full whose notes were last updated before `before` (ISO time). */
  listPrunableRuns(before: string): Promise<string[]>;
  /**
   * Keep `compacted` as the run's notes, delete its journal and progress, and take it off the
   * retention index (and the PR index, as compacted notes hold no PR). Called with the run's lock held.
   */
  pruneRun(compacted: Run, fence?: Fence): Promise<WriteOutcome>;
  /** The latest progress of each running job of a run (not journaled: it is frequent and disposable). */
  recordProgress(runId: string, progress: JobProgress): Promise<void>;
  progress(runId: string): Promise<Record<string, JobProgress>>;
  /** Hold the run's cross-process lock for the duration of `fn`. */
  withRunLock<T>(runId: string, fn: (hold: RunLockHold) => Promise<T>): Promise<T>;
  /** Persist a delivery once; false when this delivery id was seen before (a redelivery). */
  putDelivery(entry: InboxEntry): Promise<boolean>;
  /** Deliveries not yet taken, oldest arrival first. */
  pendingDeliveries(): Promise<InboxEntry[]>;
  /** This delivery id was received before (waiting or taken): a redelivery is known without asking GitHub anything. */
  wasDelivered(deliveryId: string): Promise<boolean>;
  /** Still waiting to be taken: a replica that claimed it after another took it must not submit it again. */
  isDeliveryPending(deliveryId: string): Promise<boolean>;
  markDeliveryTaken(deliveryId: string): Promise<void>;
  /** Move a delivery that keeps failing out of the way of the rest; it stays readable. */
  setDeliveryAside(deliveryId: string, error: string): Promise<void>;
  setAsideDeliveries(): Promise<SetAsideEntry[]>;
}

/** Oldest arrival first; entries from before arrival times were kept sort by id, ahead of the rest. */
export function byArrival<T extends InboxEntry>(entries: T[]): T[] {
  return [...entries].sort((a, b) => (a.receivedAt ?? 0) - (b.receivedAt ?? 0) || a.deliveryId.localeCompare(b.deliveryId));
}

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
}

export interface RunStore {
  load(runId: string): Promise<Run | undefined>;
  save(run: Run): Promise<void>;
  appendJournal(runId: string, entry: Omit<JournalEntry, "seq">): Promise<void>;
  journal(runId: string): Promise<JournalEntry[]>;
  listRuns(): Promise<string[]>;
  /** The latest progress of each running job of a run (not journaled: it is frequent and disposable). */
  recordProgress(runId: string, progress: JobProgress): Promise<void>;
  progress(runId: string): Promise<Record<string, JobProgress>>;
  /** Hold the run's cross-process lock for the duration of `fn`. */
  withRunLock<T>(runId: string, fn: () => Promise<T>): Promise<T>;
  /** Persist a delivery once; false when this delivery id was seen before (a redelivery). */
  putDelivery(entry: InboxEntry): Promise<boolean>;
  pendingDeliveries(): Promise<InboxEntry[]>;
  markDeliveryTaken(deliveryId: string): Promise<void>;
}

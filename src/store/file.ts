import { link, readFile, readdir, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { RunSchema, EventSchema, JobProgressSchema, type JobProgress, type Run } from "../domain/index.js";
import { writeFileAtomic, appendLineDurably, isPresent, readIfPresent } from "./atomic.js";
import { withFileLock } from "./lock.js";
import { FileRunIndex } from "./file-index.js";
import { IndexedNotesSchema, indexEntryOf, prKey, type IndexedNotes, type RunIndexEntry } from "./run-index.js";
import {
  byArrival,
  type InboxEntry,
  type JournalEntry,
  type RunLockHold,
  type RunStore,
  type SetAsideEntry,
  type VersionedRun,
  type WriteOutcome,
} from "./run-store.js";

/** How many delivery ids a file store keeps in memory to answer redeliveries (about 1 MB). */
const rememberedDeliveries = 10_000;

/**
 * The file lock is held until its holder releases it or its process is gone (lock.ts): it has
 * no lease that could run out under a paused holder, so every holding stays current and a
 * fenced save never meets newer notes. Versions are therefore not kept: every read is version 0.
 */
const fileHold: RunLockHold = { token: "file-lock", lost: new AbortController().signal };

/**
 * Runs as files: `runs/<owner>/<repo>/<issue>/run.json` plus `journal.jsonl`;
 * deliveries as `deliveries/pending/<id>.json`, moved to `deliveries/taken/` once handled,
 * so a redelivery is recognised across restarts. The indexes (active, watched, PR → run,
 * retention) live under `index/` (see file-index.ts for why a crash never hides a run).
 */
export class FileRunStore implements RunStore {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly progressChains = new Map<string, Promise<void>>();
  private readonly seqs = new Map<string, number>();
  private readonly index: FileRunIndex;
  /**
   * Delivery ids this process has seen stored, newest last and at most `rememberedDeliveries`:
   * a record is never removed, and this process alone writes the state dir (lock.ts), so a
   * remembered id is received for good and a redelivery is answered without touching the disk.
   */
  private readonly received = new Set<string>();
  /**
   * The run folders that may hold notes, by state dir: listed from disk once, then added to by
   * saves. Every store on one state dir in this process shares it, and this process alone writes
   * the state dir (as for `received`), so a run outside it has no notes, answered without asking
   * the disk: most comments are on issues without a run.
   */
  private static readonly noted = new Map<string, Promise<Set<string> | undefined>>();

  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.index = new FileRunIndex(join(root, "index"), () => this.everyRunEntry());
  }

  private dirOf(runId: string): string {
    const m = /^([^/]+)\/([^#]+)#(\d+)$/.exec(runId);
    if (!m) throw new Error(`not a run id: ${runId}`);
    return join(this.root, "runs", safe(m[1]!), safe(m[2]!), m[3]!);
  }

  async load(runId: string): Promise<Run | undefined> {
    const dir = this.dirOf(runId);
    if ((await this.notedDirs())?.has(dir) === false) return undefined;
    const text = await readIfPresent(join(dir, "run.json"));
    return text === undefined ? undefined : RunSchema.parse(JSON.parse(text));
  }

  /** A folder that cannot be listed is an error, never "no runs": a run taken for absent would be started again. */
  private notedDirs(): Promise<Set<string> | undefined> {
    let noted = FileRunStore.noted.get(this.root);
    if (!noted) {
      noted = this.runDirs().then(
        (dirs) => dirs && new Set(dirs),
        (error: unknown) => {
          FileRunStore.noted.delete(this.root);
          throw error;
        },
      );
      FileRunStore.noted.set(this.root, noted);
    }
    return noted;
  }

  async loadVersioned(runId: string): Promise<VersionedRun> {
    return { run: await this.load(runId), version: 0 };
  }

  async save(run: Run): Promise<WriteOutcome> {
    await this.write(run, false);
    return "written";
  }

  /** Journal and progress go first: a kill before the notes are compacted leaves the run a candidate, done again next pass. */
  async pruneRun(compacted: Run): Promise<WriteOutcome> {
    this.seqs.delete(compacted.id);
    for (const name of ["journal.jsonl", "progress.json"]) {
      await unlink(join(this.dirOf(compacted.id), name)).catch(notFound);
    }
    await this.write(compacted, true);
    return "written";
  }

  private async write(run: Run, compacted: boolean): Promise<void> {
    // Unreadable previous notes only mean an old PR entry may linger; readers check it anyway.
    const previous = await this.indexedNotes(run.id).catch(() => undefined);
    const next = indexEntryOf(run, compacted);
    await this.index.add(run.id, next);
    // Listed first, then known before the notes exist: a listing begun meanwhile could miss the
    // folder, and a load meanwhile reads the disk, which has them or not yet. A listing that fails
    // is made again by the next load, after this write.
    (await this.notedDirs().catch(() => undefined))?.add(this.dirOf(run.id));
    await writeFileAtomic(join(this.dirOf(run.id), "run.json"), `${JSON.stringify(run, null, 2)}\n`);
    await this.index.drop(run.id, next, previous && indexEntryOf(previous));
  }

  listActiveRuns(): Promise<string[]> {
    return this.index.list("active");
  }

  listWatchedRuns(): Promise<string[]> {
    return this.index.list("watched");
  }

  async runForPr(owner: string, repo: string, prNumber: number): Promise<string | undefined> {
    const key = prKey(owner, repo, prNumber);
    const runId = await this.index.prTarget(key);
    const notes = runId === undefined ? undefined : await this.indexedNotes(runId).catch(() => undefined);
    // An entry left by a kill mid-save, or one the run has since moved on from, names no run.
    return notes?.pr && prKey(notes.repo.owner, notes.repo.name, notes.pr.number) === key ? notes.id : undefined;
  }

  listPrunableRuns(before: string): Promise<string[]> {
    return this.index.retainedBefore(before);
  }

  /** The indexed fields of a run's notes as they are on disk; undefined when it has none. */
  private async indexedNotes(runId: string): Promise<IndexedNotes | undefined> {
    const text = await readIfPresent(join(this.dirOf(runId), "run.json"));
    return text === undefined ? undefined : IndexedNotesSchema.parse(JSON.parse(text));
  }

  private async *everyRunEntry(): AsyncIterable<{ id: string; entry: RunIndexEntry }> {
    for (const id of await this.listRuns()) {
      // Notes that do not parse cannot be loaded either: indexing them would change nothing.
      const notes = await this.indexedNotes(id).catch(() => undefined);
      if (notes) yield { id: notes.id, entry: indexEntryOf(notes) };
    }
  }

  async appendJournal(runId: string, entry: Omit<JournalEntry, "seq">): Promise<WriteOutcome> {
    let seq = this.seqs.get(runId);
    if (seq === undefined) seq = (await this.journal(runId)).length;
    seq += 1;
    this.seqs.set(runId, seq);
    await appendLineDurably(join(this.dirOf(runId), "journal.jsonl"), JSON.stringify({ seq, ...entry }));
    return "written";
  }

  async journal(runId: string): Promise<JournalEntry[]> {
    const text = await readFile(join(this.dirOf(runId), "journal.jsonl"), "utf8").catch(notFound);
    if (!text) return [];
    const entries: JournalEntry[] = [];
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const raw = JSON.parse(line) as JournalEntry;
        entries.push({ ...raw, event: EventSchema.parse(raw.event) });
      } catch {
        // A torn last line from a crash mid-append: the event it held was never acted on.
        break;
      }
    }
    return entries;
  }

  async listRuns(): Promise<string[]> {
    const ids: string[] = [];
    const runs = join(this.root, "runs");
    for (const owner of await readdir(runs).catch(() => [] as string[])) {
      for (const repo of await readdir(join(runs, owner)).catch(() => [] as string[])) {
        for (const issue of await readdir(join(runs, owner, repo)).catch(() => [] as string[])) {
          if (/^\d+$/.test(issue)) ids.push(`${owner}/${repo}#${issue}`);
        }
      }
    }
    return ids.sort();
  }

  /**
   * Every run folder's path, as `dirOf` names it; only a folder that is not there counts as empty.
   * Undefined when something other than a folder sits where run folders go: each load then asks
   * the disk, which says what is wrong with that run's path.
   */
  private async runDirs(): Promise<string[] | undefined> {
    const dirs: string[] = [];
    const entries = async (dir: string) => (await readdir(dir, { withFileTypes: true }).catch(notFound)) ?? [];
    const runs = join(this.root, "runs");
    for (const owner of await entries(runs)) {
      if (!owner.isDirectory()) return undefined;
      for (const repo of await entries(join(runs, owner.name))) {
        if (!repo.isDirectory()) return undefined;
        for (const issue of await entries(join(runs, owner.name, repo.name))) {
          if (!/^\d+$/.test(issue.name)) continue;
          if (!issue.isDirectory()) return undefined;
          dirs.push(join(runs, owner.name, repo.name, issue.name));
        }
      }
    }
    return dirs;
  }

  /**
   * Notes are replaced by rename (atomic.ts), so every save gives `run.json` a new inode; with the
   * time and size, a stamp changes even on a file system that reuses inodes at once.
   */
  async runStamps(): Promise<Map<string, string>> {
    const ids = await this.listRuns();
    const stats = await Promise.all(ids.map((id) => stat(join(this.dirOf(id), "run.json"), { bigint: true }).catch(notFound)));
    const stamps = new Map<string, string>();
    ids.forEach((id, i) => {
      const s = stats[i];
      // A run with a journal but no notes yet has nothing to stamp.
      if (s) stamps.set(id, `${s.ino}:${s.mtimeNs}:${s.size}`);
    });
    return stamps;
  }

  /**
   * Reports arrive without waiting for each other: each read-modify-write of a run's progress
   * file waits for the one before, so a later turn is never overwritten by an earlier one.
   */
  recordProgress(runId: string, progress: JobProgress): Promise<void> {
    const write = async () => {
      const all = { ...(await this.progress(runId)), [progress.jobId]: progress };
      await writeFileAtomic(join(this.dirOf(runId), "progress.json"), JSON.stringify(all));
    };
    const next = (this.progressChains.get(runId) ?? Promise.resolve()).catch(() => undefined).then(write);
    this.progressChains.set(runId, next);
    void next.finally(() => {
      if (this.progressChains.get(runId) === next) this.progressChains.delete(runId);
    }).catch(() => undefined);
    return next;
  }

  async progress(runId: string): Promise<Record<string, JobProgress>> {
    const text = await readFile(join(this.dirOf(runId), "progress.json"), "utf8").catch(notFound);
    if (!text) return {};
    const raw = JSON.parse(text) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(raw).map(([id, p]) => [id, JobProgressSchema.parse(p)]));
  }

  async withRunLock<T>(runId: string, fn: (hold: RunLockHold) => Promise<T>): Promise<T> {
    // In-process callers queue on a promise chain; other processes wait on the lock file.
    const previous = this.chains.get(runId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => withFileLock(join(this.dirOf(runId), "lock"), () => fn(fileHold)));
    this.chains.set(runId, next);
    try {
      return await next;
    } finally {
      if (this.chains.get(runId) === next) this.chains.delete(runId);
    }
  }

  /**
   * The first writer of a delivery id wins: the entry is written to a private temp file and
   * hard-linked into `pending/` (atomic; EEXIST means seen). A kill mid-write leaves only a
   * temp file, so GitHub's redelivery of the same id is still taken.
   */
  async putDelivery(entry: InboxEntry): Promise<boolean> {
    const stored = await this.storeDelivery(entry);
    // Either way the id is on disk now: ours, or the one that was there first.
    this.remember(entry.deliveryId);
    return stored;
  }

  private async storeDelivery(entry: InboxEntry): Promise<boolean> {
    const name = `${safe(entry.deliveryId)}.json`;
    const pending = join(this.root, "deliveries", "pending");
    const taken = join(this.root, "deliveries", "taken");
    await mkdir(pending, { recursive: true });
    await mkdir(taken, { recursive: true });
    if ((await readFile(join(taken, name), "utf8").catch(notFound)) !== undefined) return false;
    const tmp = join(pending, `.${name}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const handle = await open(tmp, "wx");
    try {
      await handle.writeFile(JSON.stringify({ ...entry, receivedAt: entry.receivedAt ?? Date.now() }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, join(pending, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    // Taken between our check and our link: the engine already has it.
    if ((await readFile(join(taken, name), "utf8").catch(notFound)) !== undefined) {
      await unlink(join(pending, name)).catch(() => undefined);
      return false;
    }
    return true;
  }

  async pendingDeliveries(): Promise<InboxEntry[]> {
    return byArrival(await this.readDeliveries("pending"));
  }

  private async readDeliveries(folder: "pending" | "aside"): Promise<(InboxEntry & { error?: string })[]> {
    const dir = join(this.root, "deliveries", folder);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".json"));
    const entries: (InboxEntry & { error?: string })[] = [];
    for (const name of names) {
      const text = await readFile(join(dir, name), "utf8").catch(notFound);
      if (text === undefined) continue;
      const raw = JSON.parse(text) as InboxEntry & { error?: string };
      entries.push({ ...raw, event: EventSchema.parse(raw.event) });
    }
    return entries;
  }

  /** The entry is rewritten with its error into `aside/`, then leaves `pending/`: a crash between keeps it pending. */
  async setDeliveryAside(deliveryId: string, error: string): Promise<void> {
    const name = `${safe(deliveryId)}.json`;
    const text = await readFile(join(this.root, "deliveries", "pending", name), "utf8").catch(notFound);
    if (text === undefined) return;
    await mkdir(join(this.root, "deliveries", "aside"), { recursive: true });
    await writeFileAtomic(join(this.root, "deliveries", "aside", name), JSON.stringify({ ...(JSON.parse(text) as InboxEntry), error }));
    await this.markDeliveryTaken(deliveryId);
  }

  async setAsideDeliveries(): Promise<SetAsideEntry[]> {
    return byArrival(await this.readDeliveries("aside")) as SetAsideEntry[];
  }

  async wasDelivered(deliveryId: string): Promise<boolean> {
    if (this.received.has(deliveryId)) return true;
    const name = `${safe(deliveryId)}.json`;
    // Existence only, asked synchronously (microseconds each): this answers while GitHub waits
    // for the webhook's answer. Pending first: a delivery moves from pending to taken, never back.
    const stored = ["pending", "taken"].some((dir) => isPresent(join(this.root, "deliveries", dir, name)));
    if (stored) this.remember(deliveryId);
    return stored;
  }

  private remember(deliveryId: string): void {
    this.received.add(deliveryId);
    if (this.received.size > rememberedDeliveries) this.received.delete(this.received.values().next().value!);
  }

  async isDeliveryPending(deliveryId: string): Promise<boolean> {
    const text = await readFile(join(this.root, "deliveries", "pending", `${safe(deliveryId)}.json`), "utf8").catch(notFound);
    return text !== undefined;
  }

  async markDeliveryTaken(deliveryId: string): Promise<void> {
    const name = `${safe(deliveryId)}.json`;
    await rename(join(this.root, "deliveries", "pending", name), join(this.root, "deliveries", "taken", name)).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      },
    );
  }
}

function safe(segment: string): string {
  return segment.replace(/[^A-Za-z0-9._-]/g, "_");
}

function notFound(error: NodeJS.ErrnoException): undefined {
  if (error.code === "ENOENT") return undefined;
  throw error;
}

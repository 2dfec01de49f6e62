import { mkdir, open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { readIfPresent, syncDir, writeFileAtomic } from "./atomic.js";
import type { RunIndexEntry } from "./run-index.js";

/** Bumped when the layout changes: a state dir without this stamp is indexed again from its run files. */
const LAYOUT = "1";

type Kind = "active" | "watched" | "retained" | "prs";

/**
 * The file store's indexes: a directory of marker files per index, named by the encoded run id
 * (`active/`, `watched/`, `retained/` holding the `updatedAt` it was retained since) or PR key
 * (`prs/` holding the run id), so a listing costs what the index holds, not what history holds.
 *
 * Order is what makes a crash harmless. Entries the new notes need are written and fsynced
 * *before* the run file; entries they no longer need are removed *after* it. A kill at any
 * instant therefore leaves the index a superset of the truth — never a missing active run or
 * PR, only an entry too many, which every reader checks against the notes it loads anyway and
 * which the run's next save removes. A state dir from before the index (or one whose index was
 * deleted) has no layout stamp and is indexed from all its run files once, at first use.
 */
export class FileRunIndex {
  private built: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly everyRun: () => AsyncIterable<{ id: string; entry: RunIndexEntry }>,
  ) {}

  /** Before the run file is written: the entries `next` needs, durable. */
  async add(runId: string, next: RunIndexEntry): Promise<void> {
    await this.ready();
    const touched = new Set<string>();
    const put = async (kind: Kind, name: string, content: string) => {
      if (await this.write(kind, name, content)) touched.add(kind);
    };
    if (next.active) await put("active", runId, "");
    if (next.watched) await put("watched", runId, "");
    if (next.retainedSince !== undefined) await put("retained", runId, next.retainedSince);
    if (next.pr !== undefined) await put("prs", next.pr, runId);
    for (const kind of touched) await syncDir(join(this.dir, kind));
  }

  /**
   * After the run file is written: entries `next` no longer has. A failure here is swallowed:
   * the notes are saved, and an entry too many is harmless (see the class comment).
   */
  async drop(runId: string, next: RunIndexEntry, previous: RunIndexEntry | undefined): Promise<void> {
    const gone: Array<[Kind, string]> = [];
    if (!next.active) gone.push(["active", runId]);
    if (!next.watched) gone.push(["watched", runId]);
    if (next.retainedSince === undefined) gone.push(["retained", runId]);
    // A PR entry is dropped only while it still names this run, never one another run has taken.
    if (previous?.pr !== undefined && previous.pr !== next.pr && (await this.prTarget(previous.pr).catch(() => undefined)) === runId) {
      gone.push(["prs", previous.pr]);
    }
    for (const [kind, name] of gone) await unlink(this.path(kind, name)).catch(() => undefined);
  }

  async list(kind: "active" | "watched"): Promise<string[]> {
    await this.ready();
    return (await this.names(kind)).sort();
  }

  /** Retained runs whose notes were last updated before `before`, by the time their entry holds. */
  async retainedBefore(before: string): Promise<string[]> {
    await this.ready();
    const limit = Date.parse(before);
    const ids: string[] = [];
    for (const runId of await this.names("retained")) {
      const since = await readFile(this.path("retained", runId), "utf8").catch(() => "");
      // A torn entry (a kill mid-write) is offered too: the pruner checks the notes themselves.
      const at = Date.parse(since);
      if (Number.isNaN(at) || at < limit) ids.push(runId);
    }
    return ids.sort();
  }

  /** The run an entry of the PR index names; the caller checks it against the run's notes. */
  async prTarget(key: string): Promise<string | undefined> {
    await this.ready();
    // Only a missing entry means "no run": an index it cannot read is an error, answered 503 to
    // GitHub, never a comment on a run's PR taken for one on a stranger's.
    return (await readIfPresent(this.path("prs", key))) || undefined;
  }

  private ready(): Promise<void> {
    this.built ??= this.buildIfMissing().catch((error: unknown) => {
      this.built = undefined;
      throw error;
    });
    return this.built;
  }

  /** Entries are only added here, so a save running meanwhile in another process is never undone. */
  private async buildIfMissing(): Promise<void> {
    const stamp = join(this.dir, "layout");
    if ((await readFile(stamp, "utf8").catch(() => undefined))?.trim() === LAYOUT) return;
    for (const kind of ["active", "watched", "retained", "prs"] as const) await mkdir(join(this.dir, kind), { recursive: true });
    for await (const { id, entry } of this.everyRun()) {
      if (entry.active) await this.write("active", id, "", false);
      if (entry.watched) await this.write("watched", id, "", false);
      if (entry.retainedSince !== undefined) await this.write("retained", id, entry.retainedSince, false);
      if (entry.pr !== undefined) await this.write("prs", entry.pr, id, false);
    }
    for (const kind of ["active", "watched", "retained", "prs"] as const) await syncDir(join(this.dir, kind));
    // The stamp last: a kill during the walk leaves no stamp, and the walk is done again.
    await writeFileAtomic(stamp, `${LAYOUT}\n`);
  }

  /** Writes an entry unless it already holds `content`; true when it wrote. */
  private async write(kind: Kind, name: string, content: string, sync = true): Promise<boolean> {
    const path = this.path(kind, name);
    if ((await readFile(path, "utf8").catch(() => undefined)) === content) return false;
    await mkdir(join(this.dir, kind), { recursive: true });
    const handle = await open(path, "w");
    try {
      await handle.writeFile(content);
      if (sync) await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  }

  private async names(kind: Kind): Promise<string[]> {
    const names = await readdir(join(this.dir, kind)).catch(() => [] as string[]);
    return names.filter((n) => !n.startsWith(".")).map((n) => decodeURIComponent(n));
  }

  private path(kind: Kind, name: string): string {
    return join(this.dir, kind, encodeURIComponent(name));
  }
}

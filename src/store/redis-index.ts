import type { Redis } from "ioredis";
import type { Run } from "../domain/index.js";
import type { Fence, WriteOutcome } from "./run-store.js";
import { IndexedNotesSchema, indexEntryOf, prKey, type RunIndexEntry } from "./run-index.js";

/**
 * The notes and every index entry they call for, in one step: a reader never sees notes and
 * indexes disagree. KEYS: run, runs, active, watched, retained, prs, runpr, journal, progress,
 * lock, version. ARGV: run id, notes, active, watched, PR key ("" none), retained since (ms,
 * "" none), prune, fence token ("" unfenced), fence version.
 * `runpr` remembers each run's PR key, so a PR the run no longer has leaves the PR index.
 * A fenced save is refused (0) unless the run lock still holds the fence's token and the notes
 * are still at the version the holder read: a holder paused past its lease writes nothing.
 */
const SAVE_RUN = `
if ARGV[8] ~= '' then
  if redis.call('GET', KEYS[10]) ~= ARGV[8] then return 0 end
  if tonumber(redis.call('GET', KEYS[11]) or '0') ~= tonumber(ARGV[9]) then return 0 end
end
redis.call('INCR', KEYS[11])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
if ARGV[3] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) else redis.call('SREM', KEYS[3], ARGV[1]) end
if ARGV[4] == '1' then redis.call('SADD', KEYS[4], ARGV[1]) else redis.call('SREM', KEYS[4], ARGV[1]) end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1]) else redis.call('ZREM', KEYS[5], ARGV[1]) end
local old = redis.call('HGET', KEYS[7], ARGV[1])
if old and old ~= ARGV[5] and redis.call('HGET', KEYS[6], old) == ARGV[1] then redis.call('HDEL', KEYS[6], old) end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[5], ARGV[1])
  redis.call('HSET', KEYS[7], ARGV[1], ARGV[5])
else
  redis.call('HDEL', KEYS[7], ARGV[1])
end
if ARGV[7] == '1' then redis.call('DEL', KEYS[8], KEYS[9]) end
return 1`;

/** Bumped when the index layout changes: a Redis without this stamp is indexed again from its runs. */
const INDEX_LAYOUT = "1";

/**
 * The Redis store's notes writer and indexes: sets (active, watched), a sorted set by
 * `updatedAt` (retention) and a hash (PR → run), written with the notes by one script.
 */
export class RedisRunIndex {
  private indexed: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: (...parts: string[]) => string,
  ) {}

  /**
   * Saves the notes with their entries; `compacted` (a pruned run) also deletes journal and
   * progress. With a fence, "stale" when the lock or the version moved on (nothing is written).
   */
  async save(run: Run, compacted: boolean, fence?: Fence): Promise<WriteOutcome> {
    await this.ready();
    const entry = indexEntryOf(run, compacted);
    const keys = [
      ["run", run.id], ["runs"], ["active"], ["watched"], ["retained"], ["prs"], ["runpr"], ["journal", run.id], ["progress", run.id],
      ["lock", run.id], ["version", run.id],
    ];
    const saved = await this.redis.eval(
      SAVE_RUN,
      keys.length,
      ...keys.map((parts) => this.key(...parts)),
      run.id,
      JSON.stringify(run),
      entry.active ? "1" : "0",
      entry.watched ? "1" : "0",
      entry.pr ?? "",
      entry.retainedSince === undefined ? "" : String(retainedScore(entry.retainedSince)),
      compacted ? "1" : "0",
      fence?.token ?? "",
      String(fence?.version ?? 0),
    );
    return saved === 1 ? "written" : "stale";
  }

  async list(kind: "active" | "watched"): Promise<string[]> {
    await this.ready();
    return (await this.redis.smembers(this.key(kind))).sort();
  }

  /** The run whose current PR this is: the run's own record of its PR must agree. */
  async runForPr(owner: string, repo: string, prNumber: number): Promise<string | undefined> {
    await this.ready();
    const key = prKey(owner, repo, prNumber);
    const runId = await this.redis.hget(this.key("prs"), key);
    return runId !== null && (await this.redis.hget(this.key("runpr"), runId)) === key ? runId : undefined;
  }

  async retainedBefore(before: string): Promise<string[]> {
    await this.ready();
    return (await this.redis.zrangebyscore(this.key("retained"), "-inf", `(${Date.parse(before)}`)).sort();
  }

  /**
   * A Redis written before the indexes existed is indexed from its runs once. Entries are only
   * added, so a replica saving meanwhile is never undone; at worst an entry too many remains,
   * which readers check against the notes.
   */
  private ready(): Promise<void> {
    this.indexed ??= this.indexIfMissing().catch((error: unknown) => {
      this.indexed = undefined;
      throw error;
    });
    return this.indexed;
  }

  private async indexIfMissing(): Promise<void> {
    const stamp = this.key("index", "layout");
    if ((await this.redis.get(stamp)) === INDEX_LAYOUT) return;
    for (const runId of await this.redis.smembers(this.key("runs"))) {
      const text = await this.redis.get(this.key("run", runId));
      const parsed = text === null ? undefined : IndexedNotesSchema.safeParse(JSON.parse(text));
      if (parsed?.success) await this.addEntry(runId, indexEntryOf(parsed.data));
    }
    await this.redis.set(stamp, INDEX_LAYOUT);
  }

  private async addEntry(runId: string, entry: RunIndexEntry): Promise<void> {
    const batch = this.redis.multi();
    if (entry.active) batch.sadd(this.key("active"), runId);
    if (entry.watched) batch.sadd(this.key("watched"), runId);
    if (entry.retainedSince !== undefined) batch.zadd(this.key("retained"), retainedScore(entry.retainedSince), runId);
    if (entry.pr !== undefined) batch.hset(this.key("prs"), entry.pr, runId).hset(this.key("runpr"), runId, entry.pr);
    await batch.exec();
  }
}

/** Score in the retention index: ms since the epoch; an unreadable time sorts first, so it is looked at. */
function retainedScore(since: string): number {
  const at = Date.parse(since);
  return Number.isNaN(at) ? 0 : at;
}

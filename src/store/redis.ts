import { Redis } from "ioredis";
import { EventSchema, JobProgressSchema, RunSchema, type JobProgress, type Run } from "../domain/index.js";
import { RedisRunIndex } from "./redis-index.js";
import { RedisLeases, RELEASE_CLAIM, claimToken, keepRenewed } from "./redis-leases.js";
import { RedisTriggerLabelBook } from "./trigger-labels.js";
import { verifyDurable } from "./redis-durable.js";
import {
  byArrival,
  type Fence,
  type InboxEntry,
  type JournalEntry,
  type RunLockHold,
  type RunStore,
  type SetAsideEntry,
  type VersionedRun,
  type WriteOutcome,
} from "./run-store.js";

export interface RedisRunStoreOptions {
  /** Prefix of every key, so several installations can share one Redis. Default `shopfloor:`. */
  prefix?: string;
  /** A run lock expires this long after its last renewal, so a dead holder frees it. Default 15 s. */
  lockTtlMs?: number;
  /** How often a waiting caller retries the lock. Default 25 ms (as the file lock). */
  lockPollMs?: number;
  /** How long a caller waits for a live holder before throwing. Default 30 s (as the file lock). */
  lockTimeoutMs?: number;
  /**
   * A command Redis has not answered after this long fails. Default 3 s: with Redis down a
   * webhook must be answered 503 well inside GitHub's 10 s, not queued until it gives up.
   */
  commandTimeoutMs?: number;
}

/**
 * `seq` is the journal's length after the push, computed inside Redis so two writers never share
 * one. With a holder token (ARGV[3]) the entry is refused (0) unless the run lock is still theirs.
 */
const APPEND_JOURNAL = `
if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then return 0 end
local seq = redis.call('LLEN', KEYS[1]) + 1
local sep = ','
if ARGV[1] == '}' then sep = '' end
redis.call('RPUSH', KEYS[1], '{"seq":' .. seq .. sep .. ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return seq`;

/** First writer of a delivery id wins; the entry and its pending mark appear together or not at all. */
const PUT_DELIVERY = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SADD', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** Version keys read per MGET by `runStamps`. */
const stampBatch = 1_000;

/**
 * Runs in Redis (DESIGN §4): the run document is a JSON string, the journal a list, progress a
 * hash; deliveries are first-writer-wins keys with a pending and a taken set; the run lock is a
 * `SET NX PX` key with a random token, renewed while held and released by compare-and-delete.
 * The token fences saves: notes carry a version, and a save is a compare-and-set of both.
 * The indexes (active, watched, retention, PR → run) are written with the notes (redis-index.ts).
 * Redis must persist with AOF and never evict — `connect` refuses to start otherwise.
 */
export class RedisRunStore implements RunStore {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly index: RedisRunIndex;
  private readonly prefix: string;
  private readonly lockTtlMs: number;
  private readonly lockPollMs: number;
  private readonly lockTimeoutMs: number;

  /** Prefer `connect`, which checks the server's persistence and eviction settings. */
  constructor(
    private readonly redis: Redis,
    opts: RedisRunStoreOptions = {},
  ) {
    this.prefix = opts.prefix ?? "shopfloor:";
    this.lockTtlMs = opts.lockTtlMs ?? 15_000;
    this.lockPollMs = opts.lockPollMs ?? 25;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 30_000;
    this.index = new RedisRunIndex(redis, (...parts) => this.key(...parts));
  }

  /** Connect and verify that Redis keeps what we write: AOF on, `maxmemory-policy noeviction`. */
  static async connect(url: string, opts: RedisRunStoreOptions = {}): Promise<RedisRunStore> {
    const redis = new Redis(url, { lazyConnect: true, commandTimeout: opts.commandTimeoutMs ?? 3_000 });
    // A lost connection shows as failed commands, each answered where it was made; ioredis reconnects by itself.
    redis.on("error", () => undefined);
    try {
      await redis.connect();
      await verifyDurable(redis, url);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    return new RedisRunStore(redis, opts);
  }

  private key(...parts: string[]): string {
    return this.prefix + parts.join(":");
  }

  async load(runId: string): Promise<Run | undefined> {
    const text = await this.redis.get(this.key("run", runId));
    return text === null ? undefined : RunSchema.parse(JSON.parse(text));
  }

  async loadVersioned(runId: string): Promise<VersionedRun> {
    const [text, version] = await this.redis.mget(this.key("run", runId), this.key("version", runId));
    return { run: text == null ? undefined : RunSchema.parse(JSON.parse(text)), version: Number(version ?? 0) };
  }

  save(run: Run, fence?: Fence): Promise<WriteOutcome> {
    return this.index.save(run, false, fence);
  }

  /** Claims shared by the replicas on this Redis: effects, deliveries, the monitor's leadership. */
  leases(): RedisLeases {
    return new RedisLeases(this.redis, (name) => this.key("lease", name));
  }

  /** Trigger labels every replica reads (see trigger-labels.ts). */
  triggerLabelBook(): RedisTriggerLabelBook {
    return new RedisTriggerLabelBook(this.redis, this.key("trigger-labels"));
  }

  pruneRun(compacted: Run, fence?: Fence): Promise<WriteOutcome> {
    return this.index.save(compacted, true, fence);
  }

  listActiveRuns(): Promise<string[]> {
    return this.index.list("active");
  }

  listWatchedRuns(): Promise<string[]> {
    return this.index.list("watched");
  }

  runForPr(owner: string, repo: string, prNumber: number): Promise<string | undefined> {
    return this.index.runForPr(owner, repo, prNumber);
  }

  listPrunableRuns(before: string): Promise<string[]> {
    return this.index.retainedBefore(before);
  }

  async appendJournal(runId: string, entry: Omit<JournalEntry, "seq">, holder?: string): Promise<WriteOutcome> {
    const body = JSON.stringify(entry).slice(1);
    const keys = [this.key("journal", runId), this.key("runs"), this.key("lock", runId)];
    const seq = await this.redis.eval(APPEND_JOURNAL, keys.length, ...keys, body, runId, holder ?? "");
    return seq === 0 ? "stale" : "written";
  }

  async journal(runId: string): Promise<JournalEntry[]> {
    const lines = await this.redis.lrange(this.key("journal", runId), 0, -1);
    const entries: JournalEntry[] = [];
    for (const line of lines) {
      try {
        const raw = JSON.parse(line) as JournalEntry;
        entries.push({ ...raw, event: EventSchema.parse(raw.event) });
      } catch {
        // Same rule as the file journal: nothing after an unreadable entry is trusted.
        break;
      }
    }
    return entries;
  }

  async listRuns(): Promise<string[]> {
    return (await this.redis.smembers(this.key("runs"))).sort();
  }

  /**
   * The version every save increments (redis-index.ts): one MGET per batch, the batches sent in
   * one pipeline (one round trip), so no single command holds Redis long for the other clients.
   * Notes from before versions were kept stamp as "0"; their next save makes it "1".
   */
  async runStamps(): Promise<Map<string, string>> {
    const ids = await this.listRuns();
    const batches: string[][] = [];
    for (let from = 0; from < ids.length; from += stampBatch) batches.push(ids.slice(from, from + stampBatch));
    const pipeline = this.redis.pipeline();
    for (const batch of batches) pipeline.mget(batch.map((id) => this.key("version", id)));
    const replies = batches.length === 0 ? [] : ((await pipeline.exec()) ?? []);
    const stamps = new Map<string, string>();
    batches.forEach((batch, b) => {
      const [error, versions] = replies[b] ?? [new Error("no reply")];
      if (error) throw error;
      batch.forEach((id, i) => stamps.set(id, (versions as (string | null)[])[i] ?? "0"));
    });
    return stamps;
  }

  async recordProgress(runId: string, progress: JobProgress): Promise<void> {
    await this.redis.hset(this.key("progress", runId), progress.jobId, JSON.stringify(progress));
  }

  async progress(runId: string): Promise<Record<string, JobProgress>> {
    const raw = await this.redis.hgetall(this.key("progress", runId));
    return Object.fromEntries(Object.entries(raw).map(([id, p]) => [id, JobProgressSchema.parse(JSON.parse(p))]));
  }

  async withRunLock<T>(runId: string, fn: (hold: RunLockHold) => Promise<T>): Promise<T> {
    // In-process callers queue on a promise chain; other processes wait on the Redis key.
    const previous = this.chains.get(runId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.withRedisLock(runId, fn));
    this.chains.set(runId, next);
    try {
      return await next;
    } finally {
      if (this.chains.get(runId) === next) this.chains.delete(runId);
    }
  }

  private async withRedisLock<T>(runId: string, fn: (hold: RunLockHold) => Promise<T>): Promise<T> {
    const key = this.key("lock", runId);
    const token = claimToken();
    const started = Date.now();
    while ((await this.redis.set(key, token, "PX", this.lockTtlMs, "NX")) !== "OK") {
      if (Date.now() - started > this.lockTimeoutMs) {
        throw new Error(`run lock ${runId} held by another process for ${this.lockTimeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, this.lockPollMs));
    }
    // Renewed while `fn` runs, so a slow holder keeps the lock and only a dead one loses it; a
    // paused one (GC, slow disk) may lose it all the same, which `lost` and the fence tell it.
    const renewal = keepRenewed(this.redis, key, token, this.lockTtlMs);
    try {
      return await fn({ token, lost: renewal.lost });
    } finally {
      renewal.stop();
      await this.redis.eval(RELEASE_CLAIM, 1, key, token).catch(() => undefined);
    }
  }

  async putDelivery(entry: InboxEntry): Promise<boolean> {
    const put = await this.redis.eval(
      PUT_DELIVERY,
      2,
      this.key("delivery", entry.deliveryId),
      this.key("deliveries", "pending"),
      JSON.stringify({ ...entry, receivedAt: entry.receivedAt ?? Date.now() }),
      entry.deliveryId,
    );
    return put === 1;
  }

  async pendingDeliveries(): Promise<InboxEntry[]> {
    return byArrival(await this.readDeliveries(await this.redis.smembers(this.key("deliveries", "pending"))));
  }

  private async readDeliveries(ids: string[]): Promise<(InboxEntry & { error?: string })[]> {
    if (ids.length === 0) return [];
    const texts = await this.redis.mget(ids.map((id) => this.key("delivery", id)));
    const entries: (InboxEntry & { error?: string })[] = [];
    for (const text of texts) {
      if (text === null) continue;
      const raw = JSON.parse(text) as InboxEntry & { error?: string };
      entries.push({ ...raw, event: EventSchema.parse(raw.event) });
    }
    return entries;
  }

  /** The entry keeps its key (so a redelivery is still refused) and gains the error; one MULTI moves it. */
  async setDeliveryAside(deliveryId: string, error: string): Promise<void> {
    const key = this.key("delivery", deliveryId);
    const text = await this.redis.get(key);
    if (text === null) return;
    await this.redis
      .multi()
      .set(key, JSON.stringify({ ...(JSON.parse(text) as InboxEntry), error }))
      .smove(this.key("deliveries", "pending"), this.key("deliveries", "aside"), deliveryId)
      .exec();
  }

  async setAsideDeliveries(): Promise<SetAsideEntry[]> {
    return byArrival(await this.readDeliveries(await this.redis.smembers(this.key("deliveries", "aside")))) as SetAsideEntry[];
  }

  async wasDelivered(deliveryId: string): Promise<boolean> {
    // The delivery key is kept after it is taken (see markDeliveryTaken).
    return (await this.redis.exists(this.key("delivery", deliveryId))) === 1;
  }

  async isDeliveryPending(deliveryId: string): Promise<boolean> {
    return (await this.redis.sismember(this.key("deliveries", "pending"), deliveryId)) === 1;
  }

  async markDeliveryTaken(deliveryId: string): Promise<void> {
    // The delivery key stays, so a redelivery of a taken id is still refused by `putDelivery`.
    await this.redis.smove(this.key("deliveries", "pending"), this.key("deliveries", "taken"), deliveryId);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { EventSchema, JobProgressSchema, RunSchema, type JobProgress, type Run } from "../domain/index.js";
import { RedisRunIndex } from "./redis-index.js";
import { byArrival, type InboxEntry, type JournalEntry, type RunStore, type SetAsideEntry } from "./run-store.js";

export interface RedisRunStoreOptions {
  /** Prefix of every key, so several installations can share one Redis. Default `shopfloor:`. */
  prefix?: string;
  /** A run lock expires this long after its last renewal, so a dead holder frees it. Default 15 s. */
  lockTtlMs?: number;
  /** How often a waiting caller retries the lock. Default 25 ms (as the file lock). */
  lockPollMs?: number;
  /** How long a caller waits for a live holder before throwing. Default 30 s (as the file lock). */
  lockTimeoutMs?: number;
}

/** `seq` is the journal's length after the push, computed inside Redis so two writers never share one. */
const APPEND_JOURNAL = `
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

/** Only the holder (by token) may release or renew: a lock that expired and was taken by another stays theirs. */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const RENEW_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Policies under which Redis may drop our keys (run notes, journal, deliveries) when memory is full. */
const SAFE_POLICY = "noeviction";

/**
 * Runs in Redis (DESIGN §4): the run document is a JSON string, the journal a list, progress a
 * hash; deliveries are first-writer-wins keys with a pending and a taken set; the run lock is a
 * `SET NX PX` key with a random token, renewed while held and released by compare-and-delete.
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
    const redis = new Redis(url, { lazyConnect: true });
    try {
      await redis.connect();
      const policy = await configValue(redis, "maxmemory-policy");
      if (policy !== SAFE_POLICY) {
        throw new Error(
          `Redis at ${redact(url)} has maxmemory-policy "${policy}": it may evict run notes and deliveries. ` +
            `Shopfloor requires "${SAFE_POLICY}" (CONFIG SET maxmemory-policy ${SAFE_POLICY}).`,
        );
      }
      const appendonly = await configValue(redis, "appendonly");
      if (appendonly !== "yes") {
        throw new Error(
          `Redis at ${redact(url)} has appendonly "${appendonly}": a restart would lose run notes. ` +
            `Shopfloor requires AOF persistence (CONFIG SET appendonly yes).`,
        );
      }
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

  async save(run: Run): Promise<void> {
    await this.index.save(run, false);
  }

  async pruneRun(compacted: Run): Promise<void> {
    await this.index.save(compacted, true);
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

  async appendJournal(runId: string, entry: Omit<JournalEntry, "seq">): Promise<void> {
    const body = JSON.stringify(entry).slice(1);
    await this.redis.eval(APPEND_JOURNAL, 2, this.key("journal", runId), this.key("runs"), body, runId);
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

  async recordProgress(runId: string, progress: JobProgress): Promise<void> {
    await this.redis.hset(this.key("progress", runId), progress.jobId, JSON.stringify(progress));
  }

  async progress(runId: string): Promise<Record<string, JobProgress>> {
    const raw = await this.redis.hgetall(this.key("progress", runId));
    return Object.fromEntries(Object.entries(raw).map(([id, p]) => [id, JobProgressSchema.parse(JSON.parse(p))]));
  }

  async withRunLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
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

  private async withRedisLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const key = this.key("lock", runId);
    const token = `${process.pid}:${randomBytes(8).toString("hex")}`;
    const started = Date.now();
    while ((await this.redis.set(key, token, "PX", this.lockTtlMs, "NX")) !== "OK") {
      if (Date.now() - started > this.lockTimeoutMs) {
        throw new Error(`run lock ${runId} held by another process for ${this.lockTimeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, this.lockPollMs));
    }
    // Renew while `fn` runs, so a slow holder keeps the lock and only a dead one loses it.
    const renew = setInterval(() => {
      this.redis.eval(RENEW_LOCK, 1, key, token, String(this.lockTtlMs)).catch(() => undefined);
    }, Math.max(1, Math.floor(this.lockTtlMs / 3)));
    renew.unref();
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      await this.redis.eval(RELEASE_LOCK, 1, key, token).catch(() => undefined);
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

  async markDeliveryTaken(deliveryId: string): Promise<void> {
    // The delivery key stays, so a redelivery of a taken id is still refused by `putDelivery`.
    await this.redis.smove(this.key("deliveries", "pending"), this.key("deliveries", "taken"), deliveryId);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

async function configValue(redis: Redis, name: string): Promise<string> {
  let reply: unknown;
  try {
    reply = await redis.config("GET", name);
  } catch (error) {
    throw new Error(
      `cannot read Redis setting ${name} (CONFIG GET refused: ${(error as Error).message}); ` +
        `Shopfloor must verify AOF and noeviction before it trusts Redis with run notes.`,
    );
  }
  const pair = reply as string[];
  if (pair.length < 2) throw new Error(`Redis did not report setting ${name}`);
  return String(pair[1]);
}

/** A URL for an error message, without its password. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable REDIS_URL)";
  }
}

import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Lease, Leases } from "./leases.js";

/** Only the holder (by token) may release or renew: a claim that expired and was taken by another stays theirs. */
export const RELEASE_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const RENEW_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export function claimToken(): string {
  return `${process.pid}:${randomBytes(8).toString("hex")}`;
}

/**
 * Renew a claim we hold (`SET NX PX` with `token`) every third of its ttl until `stop`. A renewal
 * Redis refuses means someone else holds it now; renewals that fail to reach Redis for a whole
 * ttl mean it may have expired. Either way `lost` is aborted: the holder must not act on it.
 */
export function keepRenewed(redis: Redis, key: string, token: string, ttlMs: number): { lost: AbortSignal; stop(): void } {
  const lost = new AbortController();
  let confirmedAt = Date.now();
  const timer = setInterval(() => {
    redis.eval(RENEW_CLAIM, 1, key, token, String(ttlMs)).then(
      (renewed) => {
        if (renewed === 1) confirmedAt = Date.now();
        else lose(`claim ${key} is held by another holder now`);
      },
      (error: unknown) => {
        if (Date.now() - confirmedAt >= ttlMs) lose(`claim ${key} not renewed for ${ttlMs} ms: ${(error as Error).message}`);
      },
    );
  }, Math.max(1, Math.floor(ttlMs / 3)));
  timer.unref();
  const lose = (why: string) => {
    clearInterval(timer);
    if (!lost.signal.aborted) lost.abort(new Error(why));
  };
  return { lost: lost.signal, stop: () => clearInterval(timer) };
}

/** Leases as `SET NX PX` keys with a random token, renewed while held and released by compare-and-delete. */
export class RedisLeases implements Leases {
  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (name: string) => string,
  ) {}

  async claim(name: string, ttlMs: number): Promise<Lease | undefined> {
    const key = this.keyOf(name);
    const token = claimToken();
    if ((await this.redis.set(key, token, "PX", ttlMs, "NX")) !== "OK") return undefined;
    const renewal = keepRenewed(this.redis, key, token, ttlMs);
    return {
      lost: renewal.lost,
      release: async () => {
        renewal.stop();
        await this.redis.eval(RELEASE_CLAIM, 1, key, token);
      },
    };
  }

  async held(name: string): Promise<boolean> {
    return (await this.redis.exists(this.keyOf(name))) === 1;
  }
}

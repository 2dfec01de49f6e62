import type { Redis } from "ioredis";

/** The one policy under which Redis never drops our keys (run notes, journal, deliveries) when memory is full. */
const SAFE_POLICY = "noeviction";

/** Refuse a Redis that could lose what we write: AOF must be on and `maxmemory-policy noeviction`. */
export async function verifyDurable(redis: Redis, url: string): Promise<void> {
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

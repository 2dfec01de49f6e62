import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { readBullHealth } from "../queue/bull-health.js";
import { DEFAULT_QUEUE_NAME } from "../queue/bullmq.js";

/** One line of doctor's report (the shape of `DoctorCheck`, kept here so neither file imports the other). */
export interface QueueCheck {
  name: string;
  ok: boolean;
  warning?: boolean;
  detail: string;
  lines?: string[];
}

/** A Redis that does not answer in this time is reported, not waited for. */
const answerTimeoutMs = 3000;
/** A job waiting longer than this means runners are too few, stuck, or gone. */
const longWaitMs = 5 * 60 * 1000;

/**
 * Queue health for `shopfloor doctor` in distributed mode: depth, the oldest waiting job, and
 * the running jobs of each runner connected to the queue. Long waits and a queue no runner
 * serves are warnings: doctor may well run before the runners are started.
 */
export async function checkQueueHealth(url: string, queueName = DEFAULT_QUEUE_NAME): Promise<QueueCheck> {
  const name = "queue";
  // Our own client, so a Redis that stops answering is dropped at once: no reconnecting, and
  // nothing for `disconnect` to wait on (BullMQ's own waits for a connection that never readies).
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: answerTimeoutMs, retryStrategy: () => null });
  redis.on("error", () => undefined);
  const queue = new Queue(queueName, { connection: redis });
  queue.on("error", () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const health = await Promise.race([
      readBullHealth(queue),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${answerTimeoutMs} ms`)), answerTimeoutMs))),
    ]);
    const runners = Object.entries(health.activeByRunner).sort(([a], [b]) => a.localeCompare(b));
    const active = runners.reduce((sum, [, n]) => sum + n, 0);
    const oldest = health.oldestWaitingMs === undefined ? "" : ` (oldest waiting ${formatAge(health.oldestWaitingMs)})`;
    const detail = `${health.waiting} waiting${oldest}, ${active} running on ${runners.length} runner${runners.length === 1 ? "" : "s"}`;
    const lines = runners.map(([runner, n]) => `${runner}: ${n} running`);
    const worry =
      health.waiting > 0 && runners.length === 0
        ? "jobs wait and no runner is connected: start `shopfloor runner`"
        : (health.oldestWaitingMs ?? 0) > longWaitMs
          ? "a job has waited over 5 minutes: add runners or look for a stuck one"
          : undefined;
    return { name, ok: true, ...(worry && { warning: true }), detail: worry ? `${detail}; ${worry}` : detail, lines };
  } catch (error) {
    return { name, ok: false, detail: `cannot read queue health: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

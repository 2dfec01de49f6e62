import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

/** The queue's health as the runner pool reports it (the shape of the queue room's `QueueHealth`). */
export interface QueueHealthReading {
  waiting: number;
  oldestWaitingMs: number | undefined;
  activeByRunner: Record<string, number>;
}

export interface MetricsOptions {
  /** Read on every scrape: the figures are the queue's (Redis's) at that moment, not a cache. */
  health: () => Promise<QueueHealthReading>;
  /** `SHOPFLOOR_METRICS_TOKEN`: when set, a scrape must send it as a Bearer token. */
  token?: string;
}

/**
 * `GET /metrics` in Prometheus text: queue depth, running jobs per runner and the age of the
 * oldest waiting job, plus the process's own figures. Mounted with Probot's `addHandler`.
 */
export function metricsHandler(opts: MetricsOptions) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "shopfloor_" });
  const waiting = new Gauge({ name: "shopfloor_queue_waiting_jobs", help: "Jobs waiting for a runner (queue depth).", registers: [registry] });
  const active = new Gauge({
    name: "shopfloor_queue_active_jobs",
    help: "Jobs running now, by runner name (SHOPFLOOR_RUNNER_NAME or host:pid); an idle runner shows 0.",
    labelNames: ["runner"],
    registers: [registry],
  });
  const oldest = new Gauge({
    name: "shopfloor_queue_oldest_waiting_seconds",
    help: "How long the oldest waiting job has waited for a runner; 0 when none waits.",
    registers: [registry],
  });
  const expected = opts.token ? digest(`Bearer ${opts.token}`) : undefined;

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") return false;
    if (expected && !timingSafeEqual(digest(req.headers.authorization ?? ""), expected)) {
      res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="shopfloor metrics"' }).end("a Bearer token is required\n");
      return true;
    }
    let health: QueueHealthReading;
    try {
      health = await opts.health();
    } catch (error) {
      // A scrape that fails shows as down in Prometheus, which is what a queue nobody can read is.
      res.writeHead(503, { "content-type": "text/plain" }).end(`queue health unavailable: ${error instanceof Error ? error.message : String(error)}\n`);
      return true;
    }
    waiting.set(health.waiting);
    oldest.set((health.oldestWaitingMs ?? 0) / 1000);
    // Reset first: a runner that went away must not keep its last figure.
    active.reset();
    for (const [runner, count] of Object.entries(health.activeByRunner)) active.set({ runner }, count);
    res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
    return true;
  };
}

/** Equal-length digests, so the comparison takes the same time whatever was sent. */
const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { PhaseSchema } from "../domain/index.js";

/** The queue's health as the runner pool reports it (the shape of the queue room's `QueueHealth`). */
export interface QueueHealthReading {
  waiting: number;
  oldestWaitingMs: number | undefined;
  activeByRunner: Record<string, number>;
}

/** Agent jobs take seconds (a review of a small diff) to an hour (a build at its timeout). */
const jobBuckets = [5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600];
/** A webhook should be answered in milliseconds; GitHub gives up at 10 s and does not redeliver. */
const ackBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * What Shopfloor counts between scrapes (jobs, model spend, webhook answers, GitHub requests)
 * and the gauges set at each scrape (runs, queue), in one registry. The wiring feeds it; the
 * `/metrics` handler shows it. Counters live as long as the process, as Prometheus expects.
 */
export class Meter {
  readonly registry = new Registry();
  private readonly jobs: Histogram<"role" | "outcome">;
  private readonly spend: Counter<"route">;
  private readonly tokens: Counter<"route" | "kind">;
  private readonly acks: Histogram<"status">;
  private readonly requests: Counter<"method" | "status">;
  private readonly rateLimit: Gauge<"resource">;
  private readonly runs: Gauge<"phase">;
  private readonly waiting: Gauge;
  private readonly active: Gauge<"runner">;
  private readonly oldest: Gauge;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "shopfloor_" });
    this.runs = new Gauge({
      name: "shopfloor_runs",
      help: "Runs in the store by phase, counted at each scrape: how many are building, waiting on CI, escalated to a person, done.",
      labelNames: ["phase"],
      registers,
    });
    this.jobs = new Histogram({
      name: "shopfloor_job_duration_seconds",
      help: "Wall time of each job from submission to answer (the wait for a runner included), by role and outcome (ok, blocked, failed, transient, permanent): which roles are slow, and whether failures come fast or at the timeout.",
      labelNames: ["role", "outcome"],
      buckets: jobBuckets,
      registers,
    });
    this.spend = new Counter({
      name: "shopfloor_model_spend_usd_total",
      help: "Dollars spent on models by route (provider/model), priced from the price table; a model without a price adds tokens but no dollars here.",
      labelNames: ["route"],
      registers,
    });
    this.tokens = new Counter({
      name: "shopfloor_model_tokens_total",
      help: "Model tokens by route (provider/model) and kind (input or output): what each model is used for, priced or not.",
      labelNames: ["route", "kind"],
      registers,
    });
    this.acks = new Histogram({
      name: "shopfloor_webhook_ack_seconds",
      help: "How long GitHub waited for each webhook delivery to be answered, by HTTP status; GitHub gives up at 10 s and never redelivers by itself.",
      labelNames: ["status"],
      buckets: ackBuckets,
      registers,
    });
    this.requests = new Counter({
      name: "shopfloor_github_requests_total",
      help: "Requests to the GitHub API by method and status (0: no answer), a retried one counted once: how much Shopfloor writes and how often GitHub refuses.",
      labelNames: ["method", "status"],
      registers,
    });
    this.rateLimit = new Gauge({
      name: "shopfloor_github_rate_limit_remaining",
      help: "Requests GitHub said were left in the current rate-limit window at the last answer, by resource (core, graphql, search): near 0, runs start to wait.",
      labelNames: ["resource"],
      registers,
    });
    this.waiting = new Gauge({ name: "shopfloor_queue_waiting_jobs", help: "Jobs waiting for a runner (queue depth): growing means the runners do not keep up.", registers });
    this.active = new Gauge({
      name: "shopfloor_queue_active_jobs",
      help: "Jobs running now, by runner name (SHOPFLOOR_RUNNER_NAME or host:pid); an idle runner shows 0.",
      labelNames: ["runner"],
      registers,
    });
    this.oldest = new Gauge({
      name: "shopfloor_queue_oldest_waiting_seconds",
      help: "How long the oldest waiting job has waited for a runner; 0 when none waits.",
      registers,
    });
  }

  /** A job answered: its role (`planner`, `generate`, `test`, `reviewer`, `scrutiny`) and how it ended. */
  observeJob(role: string, seconds: number, outcome: string): void {
    this.jobs.observe({ role, outcome }, seconds);
  }

  /** One model response's usage; `usd` null when the model has no price (DESIGN: tokens still count). */
  countModelUsage(route: string, usd: number | null, inputTokens: number, outputTokens: number): void {
    if (usd !== null) this.spend.inc({ route }, usd);
    this.tokens.inc({ route, kind: "input" }, inputTokens);
    this.tokens.inc({ route, kind: "output" }, outputTokens);
  }

  observeWebhookAck(seconds: number, status: number): void {
    this.acks.observe({ status: String(status) }, seconds);
  }

  /** A request answered (or not: status 0); the limit left is kept when GitHub said it. */
  countGitHubRequest(method: string, status: number, rateLimitRemaining?: number, resource?: string): void {
    this.requests.inc({ method, status: String(status) });
    if (rateLimitRemaining !== undefined) this.rateLimit.set({ resource: resource ?? "unknown" }, rateLimitRemaining);
  }

  /** Set at each scrape; every phase is shown (0 when none), so a graph has no gaps. */
  showRuns(byPhase: Record<string, number>): void {
    this.runs.reset();
    for (const phase of PhaseSchema.options) this.runs.set({ phase }, byPhase[phase] ?? 0);
    for (const [phase, count] of Object.entries(byPhase)) this.runs.set({ phase }, count);
  }

  showQueue(health: QueueHealthReading): void {
    this.waiting.set(health.waiting);
    this.oldest.set((health.oldestWaitingMs ?? 0) / 1000);
    // Reset first: a runner that went away must not keep its last figure.
    this.active.reset();
    for (const [runner, count] of Object.entries(health.activeByRunner)) this.active.set({ runner }, count);
  }
}

export interface MetricsOptions {
  /** Read on every scrape: the figures are the queue's (Redis's) at that moment, not a cache. */
  health: () => Promise<QueueHealthReading>;
  /** `SHOPFLOOR_METRICS_TOKEN`: when set, a scrape must send it as a Bearer token. */
  token?: string;
  /** What the wiring counts; without one, the handler keeps its own (queue and process figures only). */
  meter?: Meter;
  /** Runs by phase, read on every scrape (from the summary cache: a stat per run, not a load). */
  runsByPhase?: () => Promise<Record<string, number>>;
}

/**
 * `GET /metrics` in Prometheus text: the meter's figures, runs by phase, the queue's depth,
 * running jobs per runner and the oldest wait, plus the process's own figures. Mounted with
 * Probot's `addHandler`.
 */
export function metricsHandler(opts: MetricsOptions) {
  const meter = opts.meter ?? new Meter();
  const expected = opts.token ? digest(`Bearer ${opts.token}`) : undefined;

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") return false;
    if (expected && !timingSafeEqual(digest(req.headers.authorization ?? ""), expected)) {
      res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="shopfloor metrics"' }).end("a Bearer token is required\n");
      return true;
    }
    const now = await readNow(opts);
    if ("unavailable" in now) {
      // A scrape that fails shows as down in Prometheus, which is what a queue or store nobody can read is.
      res.writeHead(503, { "content-type": "text/plain" }).end(`${now.unavailable}\n`);
      return true;
    }
    meter.showQueue(now.health);
    if (now.runs) meter.showRuns(now.runs);
    res.writeHead(200, { "content-type": meter.registry.contentType }).end(await meter.registry.metrics());
    return true;
  };
}

/** The figures read at each scrape, or which of them could not be read. */
async function readNow(opts: MetricsOptions): Promise<{ health: QueueHealthReading; runs?: Record<string, number> } | { unavailable: string }> {
  const [health, runs] = await Promise.allSettled([opts.health(), opts.runsByPhase?.()]);
  if (health.status === "rejected") return { unavailable: `queue health unavailable: ${messageOf(health.reason)}` };
  if (runs.status === "rejected") return { unavailable: `runs unavailable: ${messageOf(runs.reason)}` };
  return { health: health.value, ...(runs.value && { runs: runs.value }) };
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Equal-length digests, so the comparison takes the same time whatever was sent. */
const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

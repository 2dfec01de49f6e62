import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { Meter, metricsHandler, type MetricsOptions } from "../../src/dashboard/metrics.js";
import { bullKit, deferred, planJob, planned } from "../queue/bull-kit.js";

const { names, track } = bullKit();

/** The handler mounted as Probot mounts it: tried first, anything it declines is a 404. */
async function serve(opts: MetricsOptions): Promise<string> {
  const handler = metricsHandler(opts);
  const server: Server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  track({ close: () => new Promise<void>((done) => server.close(() => done())) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("GET /metrics", () => {
  it("shows queue depth, running jobs per runner and the oldest wait, read from Redis", async () => {
    const { queue, runner } = names();
    const release = deferred();
    const hold = async () => (await release.promise, planned("held"));
    runner(hold, { name: "alpha", concurrency: 1 });
    runner(hold, { name: "beta", concurrency: 2 });
    runner(hold, { name: "gamma", concurrency: 1 });
    const q = queue();
    // Four jobs fill the three runners; the two sent after them wait.
    const answers = ["m-1", "m-2", "m-3", "m-4"].map((id) => q.run(planJob(id)));
    await vi.waitFor(async () => expect(Object.values((await q.health()).activeByRunner).reduce((a, b) => a + b, 0)).toBe(4), { timeout: 5_000 });
    answers.push(q.run(planJob("m-5")), q.run(planJob("m-6")));
    await vi.waitFor(async () => expect((await q.health()).waiting).toBe(2), { timeout: 5_000 });
    const url = await serve({ health: () => q.health() });

    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE shopfloor_queue_waiting_jobs gauge$/m);
    expect(text).toMatch(/^shopfloor_queue_waiting_jobs 2$/m);
    expect(text).toMatch(/^shopfloor_queue_active_jobs\{runner="alpha"\} 1$/m);
    expect(text).toMatch(/^shopfloor_queue_active_jobs\{runner="beta"\} 2$/m);
    expect(text).toMatch(/^shopfloor_queue_active_jobs\{runner="gamma"\} 1$/m);
    const oldest = Number(/^shopfloor_queue_oldest_waiting_seconds (\S+)$/m.exec(text)?.[1]);
    expect(oldest).toBeGreaterThan(0);
    expect(oldest).toBeLessThan(10);
    expect(text).toMatch(/^shopfloor_process_cpu_seconds_total /m);

    release.resolve();
    await Promise.all(answers);
    const after = await (await fetch(`${url}/metrics`)).text();
    expect(after).toMatch(/^shopfloor_queue_waiting_jobs 0$/m);
    expect(after).toMatch(/^shopfloor_queue_oldest_waiting_seconds 0$/m);
    expect(after).toMatch(/^shopfloor_queue_active_jobs\{runner="beta"\} 0$/m);
    expect(await (await fetch(`${url}/healthz`)).status).toBe(404);
  });

  it("asks for SHOPFLOOR_METRICS_TOKEN as a Bearer token when one is set", async () => {
    const url = await serve({ token: "scrape-secret", health: async () => ({ waiting: 3, oldestWaitingMs: 1500, activeByRunner: { r1: 2 } }) });
    const without = await fetch(`${url}/metrics`);
    expect(without.status).toBe(401);
    expect(without.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(await without.text()).not.toContain("shopfloor_queue");
    expect((await fetch(`${url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: "scrape-secret" } })).status).toBe(401);
    const right = await fetch(`${url}/metrics`, { headers: { authorization: "Bearer scrape-secret" } });
    expect(right.status).toBe(200);
    const text = await right.text();
    expect(text).toMatch(/^shopfloor_queue_waiting_jobs 3$/m);
    expect(text).toMatch(/^shopfloor_queue_oldest_waiting_seconds 1\.5$/m);
    expect(text).toMatch(/^shopfloor_queue_active_jobs\{runner="r1"\} 2$/m);
  });

  it("keeps what the meter counted behind the token too", async () => {
    const meter = new Meter();
    meter.countModelUsage("anthropic/claude-sonnet-4-5", 0.5, 10, 10);
    const url = await serve({ token: "scrape-secret", meter, health: idle, runsByPhase: async () => ({ building: 1 }) });
    const refused = await (await fetch(`${url}/metrics`)).text();
    expect(refused).not.toContain("shopfloor_runs");
    expect(refused).not.toContain("spend");
  });

  it("answers 503 when the queue cannot be read", async () => {
    const url = await serve({ health: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379")) });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("ECONNREFUSED");
  });
});

const idle = async () => ({ waiting: 0, oldestWaitingMs: undefined, activeByRunner: {} });
const sonnet = "anthropic/claude-sonnet-4-5";
const local = "openai-compatible/qwen3-coder";

/** The value of the one exposition line `series` (name and labels exactly as Prometheus prints them). */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /metrics: what the factory did", () => {
  it("shows runs by phase as the store has them at each scrape, every phase present", async () => {
    let phases: Record<string, number> = { building: 3, awaiting_ci: 1, done: 2 };
    const url = await serve({ health: idle, runsByPhase: async () => phases });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^# HELP shopfloor_runs .+/m);
    expect(text).toMatch(/^# TYPE shopfloor_runs gauge$/m);
    expect(valueOf(text, 'shopfloor_runs{phase="building"}')).toBe(3);
    expect(valueOf(text, 'shopfloor_runs{phase="awaiting_ci"}')).toBe(1);
    expect(valueOf(text, 'shopfloor_runs{phase="done"}')).toBe(2);
    // A phase with no run shows 0, so a graph of it has no gaps.
    expect(valueOf(text, 'shopfloor_runs{phase="escalated"}')).toBe(0);

    phases = { done: 6 };
    const later = await (await fetch(`${url}/metrics`)).text();
    expect(valueOf(later, 'shopfloor_runs{phase="building"}')).toBe(0);
    expect(valueOf(later, 'shopfloor_runs{phase="done"}')).toBe(6);
  });

  it("shows job durations by role and outcome, in buckets from seconds to an hour", async () => {
    const meter = new Meter();
    meter.observeJob("generate", 42, "ok");
    meter.observeJob("generate", 1_900, "ok");
    meter.observeJob("reviewer", 75, "transient");
    const url = await serve({ health: idle, meter });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^# TYPE shopfloor_job_duration_seconds histogram$/m);
    expect(valueOf(text, 'shopfloor_job_duration_seconds_count{role="generate",outcome="ok"}')).toBe(2);
    expect(valueOf(text, 'shopfloor_job_duration_seconds_sum{role="generate",outcome="ok"}')).toBe(1_942);
    expect(valueOf(text, 'shopfloor_job_duration_seconds_bucket{le="60",role="generate",outcome="ok"}')).toBe(1);
    expect(valueOf(text, 'shopfloor_job_duration_seconds_bucket{le="1800",role="generate",outcome="ok"}')).toBe(1);
    expect(valueOf(text, 'shopfloor_job_duration_seconds_bucket{le="3600",role="generate",outcome="ok"}')).toBe(2);
    expect(valueOf(text, 'shopfloor_job_duration_seconds_bucket{le="5",role="generate",outcome="ok"}')).toBe(0);
    expect(valueOf(text, 'shopfloor_job_duration_seconds_count{role="reviewer",outcome="transient"}')).toBe(1);
  });

  it("counts model spend and tokens by route; a model without a price counts tokens but no dollars", async () => {
    const meter = new Meter();
    meter.countModelUsage(sonnet, 0.0081, 1_200, 300);
    meter.countModelUsage(sonnet, 0.0019, 400, 50);
    meter.countModelUsage(local, null, 5_000, 900);
    const url = await serve({ health: idle, meter });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^# TYPE shopfloor_model_spend_usd_total counter$/m);
    expect(valueOf(text, `shopfloor_model_spend_usd_total{route="${sonnet}"}`)).toBeCloseTo(0.01, 10);
    expect(valueOf(text, `shopfloor_model_tokens_total{route="${sonnet}",kind="input"}`)).toBe(1_600);
    expect(valueOf(text, `shopfloor_model_tokens_total{route="${sonnet}",kind="output"}`)).toBe(350);
    expect(valueOf(text, `shopfloor_model_tokens_total{route="${local}",kind="input"}`)).toBe(5_000);
    expect(valueOf(text, `shopfloor_model_tokens_total{route="${local}",kind="output"}`)).toBe(900);
    // Unknown spend is not zero spend: no dollar series that would read as free.
    expect(text).not.toContain(`shopfloor_model_spend_usd_total{route="${local}"}`);
  });

  it("shows how fast webhooks were acknowledged, in buckets up to GitHub's 10 s", async () => {
    const meter = new Meter();
    meter.observeWebhookAck(0.012, 200);
    meter.observeWebhookAck(0.3, 200);
    meter.observeWebhookAck(0.004, 503);
    const url = await serve({ health: idle, meter });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^# TYPE shopfloor_webhook_ack_seconds histogram$/m);
    expect(valueOf(text, 'shopfloor_webhook_ack_seconds_bucket{le="0.005",status="503"}')).toBe(1);
    expect(valueOf(text, 'shopfloor_webhook_ack_seconds_bucket{le="0.025",status="200"}')).toBe(1);
    expect(valueOf(text, 'shopfloor_webhook_ack_seconds_bucket{le="0.5",status="200"}')).toBe(2);
    expect(valueOf(text, 'shopfloor_webhook_ack_seconds_bucket{le="10",status="200"}')).toBe(2);
    expect(valueOf(text, 'shopfloor_webhook_ack_seconds_count{status="200"}')).toBe(2);
  });

  it("counts GitHub requests by method and status, and shows the rate limit left per resource", async () => {
    const meter = new Meter();
    meter.countGitHubRequest("GET", 200, 4990, "core");
    meter.countGitHubRequest("GET", 200, 4989, "core");
    meter.countGitHubRequest("POST", 403, 0, "core");
    meter.countGitHubRequest("POST", 200, 4999, "graphql");
    // No answer came back: counted, and the last known limit stays.
    meter.countGitHubRequest("GET", 0);
    const url = await serve({ health: idle, meter });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(valueOf(text, 'shopfloor_github_requests_total{method="GET",status="200"}')).toBe(2);
    expect(valueOf(text, 'shopfloor_github_requests_total{method="POST",status="403"}')).toBe(1);
    expect(valueOf(text, 'shopfloor_github_requests_total{method="GET",status="0"}')).toBe(1);
    expect(valueOf(text, 'shopfloor_github_rate_limit_remaining{resource="core"}')).toBe(0);
    expect(valueOf(text, 'shopfloor_github_rate_limit_remaining{resource="graphql"}')).toBe(4999);
  });

  it("says what a person reads from each figure", async () => {
    const url = await serve({ health: idle, runsByPhase: async () => ({}) });
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      "shopfloor_runs",
      "shopfloor_job_duration_seconds",
      "shopfloor_model_spend_usd_total",
      "shopfloor_model_tokens_total",
      "shopfloor_webhook_ack_seconds",
      "shopfloor_github_requests_total",
      "shopfloor_github_rate_limit_remaining",
      "shopfloor_queue_waiting_jobs",
    ]) {
      const help = new RegExp(`^# HELP ${name} (.+)$`, "m").exec(text)?.[1] ?? "";
      expect(help.length, name).toBeGreaterThan(30);
    }
  });

  it("answers 503 when the runs cannot be counted", async () => {
    const url = await serve({ health: idle, runsByPhase: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379")) });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("runs unavailable");
  });
});

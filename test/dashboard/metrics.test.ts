import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { metricsHandler, type MetricsOptions } from "../../src/dashboard/metrics.js";
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

  it("answers 503 when the queue cannot be read", async () => {
    const url = await serve({ health: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379")) });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("ECONNREFUSED");
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { doctor } from "../../src/cli/doctor.js";
import { checkQueueHealth } from "../../src/cli/queue-health.js";
import { BullJobQueue, DEFAULT_QUEUE_NAME, startRunner } from "../../src/queue/bullmq.js";
import { bullKit, deferred, planJob, planned } from "../queue/bull-kit.js";

const { kit, track } = bullKit();

describe("shopfloor doctor with REDIS_URL", () => {
  it("prints queue depth, the oldest waiting job and the jobs of each runner", async () => {
    const connection = { url: kit.server.url };
    const release = deferred();
    const runner = startRunner({ connection, queueName: DEFAULT_QUEUE_NAME, name: "rack-7", concurrency: 1, handler: async () => (await release.promise, planned("done")) });
    track({ close: () => runner.worker.close(true).then(() => runner.close()) });
    const queue = track(new BullJobQueue({ connection }));
    const answers = [queue.run(planJob("d-1")), queue.run(planJob("d-2"))];
    await vi.waitFor(async () => expect(await queue.health()).toMatchObject({ waiting: 1, activeByRunner: { "rack-7": 1 } }), { timeout: 5_000 });

    const root = await mkdtemp(join(tmpdir(), "shopfloor-doctor-queue-"));
    track({ close: () => rm(root, { recursive: true, force: true }) });
    const lines: string[] = [];
    const report = await doctor({ env: { REDIS_URL: kit.server.url }, stateDir: join(root, "state"), workDir: join(root, "work"), log: (l) => lines.push(l) });
    expect(report.checks.find((c) => c.name === "queue")).toMatchObject({ ok: true, lines: ["rack-7: 1 running"] });
    expect(lines).toContainEqual(expect.stringMatching(/^✓ queue: 1 waiting \(oldest waiting \d+ s\), 1 running on 1 runner$/));
    expect(lines).toContain("    rack-7: 1 running");
    release.resolve();
    await Promise.all(answers);
  });

  it("warns when jobs wait and no runner is connected", async () => {
    const queue = track(new BullJobQueue({ connection: { url: kit.server.url }, queueName: "unserved" }));
    void queue.run(planJob("d-3"));
    await vi.waitFor(async () => expect((await queue.health()).waiting).toBe(1), { timeout: 5_000 });
    expect(await checkQueueHealth(kit.server.url, "unserved")).toMatchObject({
      ok: true,
      warning: true,
      detail: expect.stringMatching(/^1 waiting \(oldest waiting \d+ s\), 0 running on 0 runners; jobs wait and no runner is connected/),
    });
  });
});

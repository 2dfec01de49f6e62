import { afterAll, afterEach, beforeAll } from "vitest";
import type { Job, JobOutcome } from "../../src/domain/index.js";
import { BullJobQueue, startRunner, type Runner, type RunnerOptions } from "../../src/queue/bullmq.js";
import type { JobHandler } from "../../src/queue/job-queue.js";
import { startRedis, type RedisServer } from "../kit/redis.js";

/**
 * A real redis-server for the file's tests, and a fresh queue name per `names()`, so tests share
 * the server but never each other's jobs. Everything opened is closed after each test.
 */
export function bullKit() {
  const kit = { server: undefined as unknown as RedisServer, opened: [] as { close(): Promise<void> }[], queues: 0 };
  beforeAll(async () => {
    kit.server = await startRedis();
  });
  afterEach(async () => {
    await Promise.allSettled(kit.opened.splice(0).reverse().map((o) => o.close()));
  });
  afterAll(async () => {
    await kit.server?.stop();
  });
  const track = <T extends { close(): Promise<void> }>(o: T): T => {
    kit.opened.push(o);
    return o;
  };
  const names = () => {
    const queueName = `q${++kit.queues}`;
    const connection = { url: kit.server.url };
    return {
      queueName,
      connection,
      track,
      queue: () => track(new BullJobQueue({ connection, queueName })),
      runner: (handler: JobHandler, more: Partial<RunnerOptions> = {}): Runner => {
        const r = startRunner({ connection, queueName, handler, concurrency: 2, lockDurationMs: 600, stalledIntervalMs: 300, ...more });
        // Forced first: a failed test may leave a handler that never returns, and a graceful close waits for it.
        track({ close: () => r.worker.close(true).then(() => r.close()) });
        return r;
      },
    };
  };
  return { kit, names, track };
}

export function planJob(jobId: string): Job {
  return {
    kind: "plan",
    jobId,
    runId: "octo/app#7",
    repo: { owner: "octo", name: "app", installationId: 42 },
    attempt: 1,
    defaultBranch: "main",
    issue: { number: 7, title: "Add farewell()", body: "Please." },
  };
}

export function planned(summary: string): JobOutcome {
  return {
    ok: true,
    output: {
      kind: "plan",
      baseSha: "base0",
      usage: [],
      plan: {
        summary,
        risk: "low",
        subtasks: [{ id: "impl", role: "generate", title: "Implement", brief: "Write it", files: ["a.js"], dependsOn: [], assertions: ["A1"] }],
        contract: { assertions: [{ id: "A1", text: "it works", check: { kind: "command", command: "npm test" } }] },
      },
    },
  };
}

export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A runner process for bench/runners.ts, as `shopfloor runner` nodes take jobs: `startRunner` on
 * the bench's queue, with a handler that asks the (slowed) scripted model once per job. Prints
 * "ready" once its worker is connected; SIGTERM closes it.
 */
import OpenAI from "openai";
import type { JobOutcome } from "../../src/domain/index.js";
import { startRunner } from "../../src/queue/bullmq.js";

export const benchModel = "bench-planner";
/** Jobs each runner takes at once (SHOPFLOOR_RUNNER_CONCURRENCY's default). */
export const runnerConcurrency = 2;

function benchPlan(summary: string) {
  return {
    summary,
    risk: "low" as const,
    subtasks: [{ id: "impl", role: "generate" as const, title: "Implement", brief: "Write it", files: ["a.js"], dependsOn: [], assertions: ["A1"] }],
    contract: { assertions: [{ id: "A1", text: "it works", check: { kind: "command" as const, command: "npm test" } }] },
  };
}

async function main(): Promise<void> {
  const env = process.env;
  const client = new OpenAI({ baseURL: `${env.BENCH_MODEL_URL}/v1`, apiKey: "bench", maxRetries: 0 });
  const runner = startRunner({
    connection: { url: env.BENCH_REDIS_URL! },
    queueName: env.BENCH_QUEUE!,
    name: env.BENCH_RUNNER_NAME!,
    concurrency: runnerConcurrency,
    handler: async (job, signal): Promise<JobOutcome> => {
      const reply = await client.chat.completions.create({ model: benchModel, messages: [{ role: "user", content: `plan ${job.jobId}` }] }, { signal });
      const usage = [{ provider: "openai", model: benchModel, inputTokens: reply.usage?.prompt_tokens ?? 0, outputTokens: reply.usage?.completion_tokens ?? 0, cachedTokens: 0, costUsd: null }];
      return { ok: true, output: { kind: "plan", baseSha: "base0", usage, plan: benchPlan(reply.choices[0]?.message.content ?? "") } };
    },
  });
  await runner.worker.waitUntilReady();
  process.once("SIGTERM", () => void runner.close().then(() => process.exit(0)));
  process.stdout.write("ready\n");
}

if (process.env.BENCH_RUNNER_NAME) await main();

import type { Effect } from "../../domain/index.js";
import type { Answer, EffectContext } from "./context.js";

/** The effect is answered when the job ends; a job re-sent after a crash runs again under the same id. */
export async function dispatchJob(effect: Extract<Effect, { kind: "dispatchJob" }>, ctx: EffectContext): Promise<Answer> {
  const outcome = await ctx.queue.run(effect.job);
  return outcome.ok
    ? { type: "job.succeeded", jobId: effect.job.jobId, output: outcome.output }
    : { type: "job.failed", jobId: effect.job.jobId, failure: outcome.failure, usage: outcome.usage, jitter: Math.random() };
}

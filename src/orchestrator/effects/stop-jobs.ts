import type { Effect } from "../../domain/index.js";
import type { Answer, EffectContext } from "./context.js";

/**
 * Each job's signal aborts on whichever runner holds it, and a job still waiting never starts.
 * Idempotent: stopping a job that already ended does nothing, so a restart may repeat it.
 */
export function stopJobs(effect: Extract<Effect, { kind: "stopJobs" }>, ctx: EffectContext): Answer {
  for (const jobId of effect.jobIds) ctx.queue.cancel(jobId, effect.reason);
  return { type: "effect.done" };
}

import type { Effect, Run } from "../../domain/index.js";
import { markReadyForReview } from "../../github/ready.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export async function markReady(run: Run, effect: Extract<Effect, { kind: "markReady" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  await markReadyForReview(octokit, { ...coordinates(run), number: effect.pullNumber });
  return { type: "effect.done" };
}

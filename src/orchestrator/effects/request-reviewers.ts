import type { Effect, Run } from "../../domain/index.js";
import { requestReviewers as request } from "../../github/ready.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export async function requestReviewers(run: Run, effect: Extract<Effect, { kind: "requestReviewers" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  await request(octokit, coordinates(run), effect.pullNumber, effect.logins);
  return { type: "effect.done" };
}

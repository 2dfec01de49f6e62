import type { Effect, Run } from "../../domain/index.js";
import { findOrCreatePullRequest } from "../../github/pulls.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export async function openPullRequest(
  run: Run,
  effect: Extract<Effect, { kind: "openPullRequest" }>,
  ctx: EffectContext,
): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const pr = await findOrCreatePullRequest(octokit, coordinates(run), effect);
  return { type: "pr.opened", number: pr.number, url: pr.url };
}

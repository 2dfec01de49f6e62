import type { Effect, Run } from "../../domain/index.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

/**
 * Delete the run branch after a merge, but only when its tip is still the commit Shopfloor
 * pushed and the PR merged: anything else on it would be lost, so it is reported instead.
 */
export async function deleteBranch(run: Run, effect: Extract<Effect, { kind: "deleteBranch" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  let tip: string;
  try {
    const { data } = await octokit.rest.git.getRef({ ...coordinates(run), ref: `heads/${effect.branch}` });
    tip = data.object.sha;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return { type: "effect.done" };
    throw error;
  }
  if (tip !== effect.expectedSha) {
    return {
      type: "effect.failed",
      failure: { class: "permanent", reason: "policy_violation", detail: `kept ${effect.branch}: its tip ${tip.slice(0, 12)} is not the merged ${effect.expectedSha.slice(0, 12)}` },
    };
  }
  await octokit.rest.git.deleteRef({ ...coordinates(run), ref: `heads/${effect.branch}` });
  return { type: "effect.done" };
}

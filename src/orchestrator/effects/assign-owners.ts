import type { Effect, Run } from "../../domain/index.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

/** Assigning someone already assigned changes nothing, so this is idempotent. */
export async function assignOwners(run: Run, effect: Extract<Effect, { kind: "assignOwners" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  await octokit.rest.issues.addAssignees({ ...coordinates(run), issue_number: run.issue.number, assignees: effect.owners });
  return { type: "effect.done" };
}

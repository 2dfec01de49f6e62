import type { Effect, Run } from "../../domain/index.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

/** A label already gone (404) is the outcome we wanted. */
export async function removeLabels(run: Run, effect: Extract<Effect, { kind: "removeLabels" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  for (const name of effect.labels) {
    try {
      await octokit.rest.issues.removeLabel({ ...coordinates(run), issue_number: run.issue.number, name });
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
    }
  }
  return { type: "effect.done" };
}

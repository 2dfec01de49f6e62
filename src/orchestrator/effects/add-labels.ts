import type { Effect, Run } from "../../domain/index.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

/** Adding a label the issue already has is a no-op on GitHub's side, so this is idempotent. */
export async function addLabels(run: Run, effect: Extract<Effect, { kind: "addLabels" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  await octokit.rest.issues.addLabels({ ...coordinates(run), issue_number: run.issue.number, labels: effect.labels });
  return { type: "effect.done" };
}

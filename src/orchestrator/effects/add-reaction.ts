import type { Effect, Run } from "../../domain/index.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

/** GitHub answers 200 instead of 201 for a reaction that already exists: idempotent by nature. */
export async function addReaction(run: Run, effect: Extract<Effect, { kind: "addReaction" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  await octokit.rest.reactions.createForIssueComment({ ...coordinates(run), comment_id: effect.commentId, content: effect.content });
  return { type: "effect.done" };
}

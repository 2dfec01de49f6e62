import type { Effect, Run } from "../../domain/index.js";
import { upsertCommentByMarker } from "../../github/comments.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

/** A reply is found again by a marker holding its effect key, so a crash never posts it twice. */
export async function postReply(run: Run, effect: Extract<Effect, { kind: "postReply" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const marker = `<!-- shopfloor:reply:${effect.key} -->`;
  const body = `${marker}\n${effect.body}`.slice(0, 60_000);
  await upsertCommentByMarker(octokit, { ...coordinates(run), issueNumber: effect.issueNumber }, { marker, body, appId: ctx.appId });
  return { type: "effect.done" };
}

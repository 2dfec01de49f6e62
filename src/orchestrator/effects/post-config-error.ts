import type { Effect, Run } from "../../domain/index.js";
import { upsertCommentByMarker } from "../../github/comments.js";
import { configErrorMarker } from "../render.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export async function postConfigError(
  run: Run,
  effect: Extract<Effect, { kind: "postConfigError" }>,
  ctx: EffectContext,
): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const at = { ...coordinates(run), issueNumber: run.issue.number };
  const commentId = await upsertCommentByMarker(octokit, at, { marker: configErrorMarker(run.id), body: effect.body, appId: ctx.appId });
  return { type: "comment.upserted", commentId };
}

import type { Effect, Run } from "../../domain/index.js";
import { upsertCommentByMarker } from "../../github/comments.js";
import { progressMarker } from "../render.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export async function upsertProgressComment(
  run: Run,
  effect: Extract<Effect, { kind: "upsertProgressComment" }>,
  ctx: EffectContext,
): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const at = { ...coordinates(run), issueNumber: run.issue.number };
  const marker = progressMarker(run.id);
  const commentId = await upsertCommentByMarker(octokit, at, { marker, body: effect.body, knownId: run.progressCommentId, appId: ctx.appId });
  return { type: "comment.upserted", commentId };
}

import type { Effect, Run } from "../../domain/index.js";
import { postReview as post } from "../../github/reviews.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export const reviewMarker = (runId: string, reviewer: string, round: number): string => `<!-- shopfloor:review:${runId}:${reviewer}:${round} -->`;

/** One `COMMENT` review per reviewer and round, found again by its marker after a crash. */
export async function postReview(run: Run, effect: Extract<Effect, { kind: "postReview" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  await post(octokit, coordinates(run), {
    pullNumber: effect.pullNumber,
    headSha: effect.headSha,
    marker: reviewMarker(run.id, effect.reviewer, effect.round),
    title: effect.title,
    summary: effect.summary,
    findings: effect.findings.map((f) => ({ file: f.file, line: f.line, severity: f.severity, body: f.body, onDiff: f.onDiff })),
  });
  return { type: "effect.done" };
}

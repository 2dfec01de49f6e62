import type { Effect, Run } from "../../domain/index.js";
import { upsertCommentByMarker } from "../../github/comments.js";
import { handoffMarker } from "../render.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

/** One handoff comment per run (upserted by marker), ending with the decision trace excerpt. */
export async function postHandoff(run: Run, effect: Extract<Effect, { kind: "postHandoff" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const trace = await ctx.traceExcerpt(run.id);
  const body = trace ? `${effect.body}\n\n<details><summary>Decision trace (last entries)</summary>\n\n\`\`\`\n${trace}\n\`\`\`\n</details>` : effect.body;
  await upsertCommentByMarker(octokit, { ...coordinates(run), issueNumber: run.issue.number }, handoffMarker(run.id), body.slice(0, 64_000));
  return { type: "effect.done" };
}

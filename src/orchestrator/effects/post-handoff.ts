import type { Effect, Run } from "../../domain/index.js";
import { upsertCommentByMarker } from "../../github/comments.js";
import { handoffMarker } from "../render.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

/** One handoff comment per run (upserted by marker), ending with the decision trace excerpt. */
export async function postHandoff(run: Run, effect: Extract<Effect, { kind: "postHandoff" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const trace = await ctx.traceExcerpt(run.id);
  const full = trace ? `${effect.body}\n\n<details><summary>Decision trace (last entries)</summary>\n\n\`\`\`\n${trace}\n\`\`\`\n</details>` : effect.body;
  // The effect came redacted, but the trace is read from the journal here: failure details in it
  // quote errors and command output, which can hold a key. Redact the whole comment as it leaves.
  const body = (ctx.redact ? ctx.redact(full) : full).slice(0, 64_000);
  const at = { ...coordinates(run), issueNumber: run.issue.number };
  await upsertCommentByMarker(octokit, at, { marker: handoffMarker(run.id), body, appId: ctx.appId });
  return { type: "effect.done" };
}

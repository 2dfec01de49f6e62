import type { Effect, Run } from "../../domain/index.js";
import { publishGateCheck } from "../../github/checks.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export async function publishGate(run: Run, effect: Extract<Effect, { kind: "publishGate" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const checkRunId = await publishGateCheck(octokit, coordinates(run), {
    headSha: effect.headSha,
    externalId: run.id,
    conclusion: effect.conclusion,
    title: effect.title,
    summary: effect.summary,
  });
  return { type: "gate.published", checkRunId };
}

import type { Effect, Run } from "../../domain/index.js";
import { readCi as read } from "../../github/ci.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export async function readCi(run: Run, effect: Extract<Effect, { kind: "readCi" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const checks = await read(octokit, coordinates(run), effect.headSha, ctx.appId);
  return { type: "ci.read", checks };
}

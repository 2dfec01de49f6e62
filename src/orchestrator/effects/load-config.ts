import type { Run } from "../../domain/index.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

export async function loadConfig(run: Run, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const { data: repo } = await octokit.rest.repos.get(coordinates(run));
  const outcome = await ctx.loadRepoConfig(octokit, run.repo.owner, run.repo.name);
  if (!outcome.ok) return { type: "config.invalid", errors: outcome.errors };
  return { type: "config.loaded", config: outcome.config, defaultBranch: repo.default_branch };
}

import type { RepoConfig } from "../domain/index.js";
import { createModel } from "../models/route.js";
import type { RoleCards } from "../workers/role-card.js";

/**
 * Why the run's models could not be reached, one line per route, before anything starts: a key
 * missing from the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY) or an endpoint not configured.
 * The routes are the repository's (`models`, `review.reviewers`) or, left out, the role cards'.
 */
export function modelProblems(config: RepoConfig, cards: RoleCards, env: NodeJS.ProcessEnv): string[] {
  const roles = ["planner", "generator", "tester"] as const;
  const routes = new Set([...roles.map((role) => config.models[role] ?? cards.get(role)?.model), ...config.review.reviewers]);
  const problems: string[] = [];
  for (const route of routes) {
    if (route === undefined) continue;
    try {
      createModel(route, env);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return problems;
}

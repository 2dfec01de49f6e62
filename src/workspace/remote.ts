import type { RepoName } from "./types.js";

/**
 * The credential-free clone URL of a repository. Reads the same settings Probot uses for the
 * API base (GHE_HOST, GHE_PROTOCOL), so GitHub Enterprise Server works without extra config.
 */
export function gitRemoteUrl(repo: RepoName, env: NodeJS.ProcessEnv = process.env): string {
  const protocol = env.GHE_PROTOCOL || "https";
  const host = env.GHE_HOST || "github.com";
  return `${protocol}://${host}/${repo.owner}/${repo.name}.git`;
}

import type { InstallationOctokit } from "./octokit.js";

interface Cached {
  token: string;
  expiresAt: number;
}

/** Refresh this long before GitHub's expiry so a long push never runs on a dying token. */
const refreshMarginMs = 10 * 60_000;

/**
 * Mints installation tokens scoped to one repository with `contents: write` only, for git.
 * The token goes to git through the credential helper; it is never logged or given to an agent.
 */
export class RepoTokenMinter {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly appOctokit: () => Promise<InstallationOctokit>) {}

  async tokenFor(repo: { owner: string; name: string; installationId: number }): Promise<string> {
    const key = `${repo.installationId}/${repo.owner}/${repo.name}`;
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt - refreshMarginMs > Date.now()) return hit.token;
    const octokit = await this.appOctokit();
    const { data } = await octokit.rest.apps.createInstallationAccessToken({
      installation_id: repo.installationId,
      repositories: [repo.name],
      permissions: { contents: "write" },
    });
    this.cache.set(key, { token: data.token, expiresAt: Date.parse(data.expires_at) });
    return data.token;
  }
}

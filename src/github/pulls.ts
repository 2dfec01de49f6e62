import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

export interface PullRequestRef {
  number: number;
  url: string;
}

/** A draft PR from `head` to `base`, found by its head branch first so it is never opened twice. */
export async function findOrCreatePullRequest(
  octokit: InstallationOctokit,
  at: RepoCoordinates,
  pr: { head: string; base: string; title: string; body: string },
): Promise<PullRequestRef> {
  const { data: existing } = await octokit.rest.pulls.list({
    owner: at.owner,
    repo: at.repo,
    head: `${at.owner}:${pr.head}`,
    state: "all",
    per_page: 10,
  });
  const found = existing.find((p) => p.head.ref === pr.head);
  if (found) return { number: found.number, url: found.html_url };
  const { data } = await octokit.rest.pulls.create({
    owner: at.owner,
    repo: at.repo,
    head: pr.head,
    base: pr.base,
    title: pr.title,
    body: pr.body,
    draft: true,
    maintainer_can_modify: false,
  });
  return { number: data.number, url: data.html_url };
}

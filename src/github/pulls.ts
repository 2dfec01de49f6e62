import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

export interface PullRequestRef {
  number: number;
  url: string;
}

/**
 * A draft PR from `head` to `base`, found by its head branch first so it is never opened twice.
 * Two replicas may both find none and both create: GitHub refuses the second (422 "A pull request
 * already exists"), and the loser takes the winner's PR instead of failing.
 */
export async function findOrCreatePullRequest(
  octokit: InstallationOctokit,
  at: RepoCoordinates,
  pr: { head: string; base: string; title: string; body: string },
): Promise<PullRequestRef> {
  const found = await findByHead(octokit, at, pr.head);
  if (found) return found;
  try {
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
  } catch (error) {
    if (!alreadyExists(error)) throw error;
    const winner = await findByHead(octokit, at, pr.head);
    if (!winner) throw error;
    return winner;
  }
}

async function findByHead(octokit: InstallationOctokit, at: RepoCoordinates, head: string): Promise<PullRequestRef | undefined> {
  const { data: existing } = await octokit.rest.pulls.list({
    owner: at.owner,
    repo: at.repo,
    head: `${at.owner}:${head}`,
    state: "all",
    per_page: 10,
  });
  const found = existing.find((p) => p.head.ref === head);
  return found && { number: found.number, url: found.html_url };
}

function alreadyExists(error: unknown): boolean {
  const e = error as { status?: number; message?: string };
  return e.status === 422 && /a pull request already exists/i.test(e.message ?? "");
}

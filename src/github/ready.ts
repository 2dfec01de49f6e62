import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

export type PullRequestLocator = string | (RepoCoordinates & { number: number });

const isDraftQuery = `query ($id: ID!) {
  node(id: $id) {
    ... on PullRequest {
      isDraft
    }
  }
}`;

const markReadyMutation = `mutation ($id: ID!) {
  markPullRequestReadyForReview(input: { pullRequestId: $id }) {
    pullRequest {
      isDraft
    }
  }
}`;

/**
 * Take a draft PR out of draft. REST cannot, so this is GraphQL. GitHub refuses the mutation on a
 * PR that is already ready, so the draft flag is read first: calling this twice changes nothing.
 */
export async function markReadyForReview(octokit: InstallationOctokit, pr: PullRequestLocator): Promise<{ changed: boolean }> {
  let nodeId: string;
  let draft: boolean;
  if (typeof pr === "string") {
    const found = await octokit.graphql<{ node: { isDraft?: boolean } | null }>(isDraftQuery, { id: pr });
    if (found.node?.isDraft === undefined) throw new Error(`no pull request with node id ${pr}`);
    nodeId = pr;
    draft = found.node.isDraft;
  } else {
    const { data } = await octokit.rest.pulls.get({ owner: pr.owner, repo: pr.repo, pull_number: pr.number });
    nodeId = data.node_id;
    draft = data.draft === true;
  }
  if (!draft) return { changed: false };
  await octokit.graphql(markReadyMutation, { id: nodeId });
  return { changed: true };
}

export interface ReviewerRequest {
  /** Logins now asked to review. */
  requested: string[];
  /** Logins not asked, and why. */
  skipped: { login: string; reason: "author" | "already requested" | "not a collaborator" }[];
}

/**
 * Ask people to review the PR. The author cannot review their own PR and GitHub refuses
 * (422) anyone who is not a collaborator; both are skipped and reported rather than failing the
 * run. Logins already requested are not asked again, so a second call makes no write.
 */
export async function requestReviewers(
  octokit: InstallationOctokit,
  at: RepoCoordinates,
  pullNumber: number,
  logins: string[],
): Promise<ReviewerRequest> {
  const { data: pr } = await octokit.rest.pulls.get({ owner: at.owner, repo: at.repo, pull_number: pullNumber });
  const author = pr.user.login.toLowerCase();
  const already = new Set((pr.requested_reviewers ?? []).map((u) => u.login.toLowerCase()));
  const skipped: ReviewerRequest["skipped"] = [];
  const wanted: string[] = [];
  const seen = new Set<string>();
  for (const login of logins) {
    const key = login.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    if (key === author) skipped.push({ login, reason: "author" });
    else if (already.has(key)) skipped.push({ login, reason: "already requested" });
    else wanted.push(login);
  }
  if (wanted.length === 0) return { requested: [], skipped };

  try {
    await ask(octokit, at, pullNumber, wanted);
    return { requested: wanted, skipped };
  } catch (error) {
    if (status(error) !== 422) throw error;
  }
  // One refused login fails the whole request; ask one by one to learn which.
  const requested: string[] = [];
  for (const login of wanted) {
    try {
      await ask(octokit, at, pullNumber, [login]);
      requested.push(login);
    } catch (error) {
      if (status(error) !== 422) throw error;
      skipped.push({ login, reason: "not a collaborator" });
    }
  }
  return { requested, skipped };
}

async function ask(octokit: InstallationOctokit, at: RepoCoordinates, pullNumber: number, reviewers: string[]): Promise<void> {
  await octokit.rest.pulls.requestReviewers({ owner: at.owner, repo: at.repo, pull_number: pullNumber, reviewers });
}

function status(error: unknown): number | undefined {
  return (error as { status?: number }).status;
}

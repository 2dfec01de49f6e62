import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

/**
 * Create or update the comment that carries `marker`, so a comment is never posted twice:
 * the known id is tried first, then the issue's comments are searched for the marker.
 */
export async function upsertCommentByMarker(
  octokit: InstallationOctokit,
  at: RepoCoordinates & { issueNumber: number },
  marker: string,
  body: string,
  knownId?: number,
): Promise<number> {
  if (knownId !== undefined) {
    try {
      await octokit.rest.issues.updateComment({ owner: at.owner, repo: at.repo, comment_id: knownId, body });
      return knownId;
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
    }
  }
  const existing = await findCommentByMarker(octokit, at, marker);
  if (existing !== undefined) {
    await octokit.rest.issues.updateComment({ owner: at.owner, repo: at.repo, comment_id: existing, body });
    return existing;
  }
  const { data } = await octokit.rest.issues.createComment({ owner: at.owner, repo: at.repo, issue_number: at.issueNumber, body });
  return data.id;
}

export async function findCommentByMarker(
  octokit: InstallationOctokit,
  at: RepoCoordinates & { issueNumber: number },
  marker: string,
): Promise<number | undefined> {
  const comments = await octokit.paginate(octokit.rest.issues.listComments, {
    owner: at.owner,
    repo: at.repo,
    issue_number: at.issueNumber,
    per_page: 100,
  });
  return comments.find((c) => c.body?.includes(marker))?.id;
}

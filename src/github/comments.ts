import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

/** Who wrote a comment or review, as GitHub reports it. */
export interface Authored {
  user?: { type?: string } | null;
  performed_via_github_app?: { id?: number } | null;
}

/**
 * Whether Shopfloor wrote it. A hidden marker is only text: anyone can post a comment holding
 * `<!-- shopfloor:progress:… -->`, and adopting it would let them steer what Shopfloor edits.
 * GitHub stamps what an App writes with `performed_via_github_app`, which no person can forge;
 * without our App id, only a bot account (an App, never a person) is trusted.
 */
export function writtenByApp(item: Authored, appId: number | undefined): boolean {
  if (appId !== undefined) return item.performed_via_github_app?.id === appId;
  return item.user?.type === "Bot";
}

export interface MarkedComment {
  marker: string;
  body: string;
  /** The comment's id when the run remembers it: tried first, saving the search. */
  knownId?: number | undefined;
  /** Our App id, to tell our comments from copies of the marker; see `writtenByApp`. */
  appId?: number | undefined;
}

/**
 * Create or update the comment that carries `marker`, so a comment is never posted twice:
 * the known id is tried first, then the issue's comments are searched for one of ours with the marker.
 */
export async function upsertCommentByMarker(octokit: InstallationOctokit, at: RepoCoordinates & { issueNumber: number }, c: MarkedComment): Promise<number> {
  if (c.knownId !== undefined) {
    try {
      await octokit.rest.issues.updateComment({ owner: at.owner, repo: at.repo, comment_id: c.knownId, body: c.body });
      return c.knownId;
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
    }
  }
  const existing = await findCommentByMarker(octokit, at, c.marker, c.appId);
  if (existing !== undefined) {
    await octokit.rest.issues.updateComment({ owner: at.owner, repo: at.repo, comment_id: existing, body: c.body });
    return existing;
  }
  const { data } = await octokit.rest.issues.createComment({ owner: at.owner, repo: at.repo, issue_number: at.issueNumber, body: c.body });
  return data.id;
}

export async function findCommentByMarker(
  octokit: InstallationOctokit,
  at: RepoCoordinates & { issueNumber: number },
  marker: string,
  appId: number | undefined,
): Promise<number | undefined> {
  const comments = await octokit.paginate(octokit.rest.issues.listComments, {
    owner: at.owner,
    repo: at.repo,
    issue_number: at.issueNumber,
    per_page: 100,
  });
  return comments.find((c) => c.body?.includes(marker) && writtenByApp(c, appId))?.id;
}

import type { Severity } from "../domain/review.js";
import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

/**
 * GitHub refuses a review body or comment over 65 536 characters. We cut well below that and
 * count UTF-8 bytes, which is never less than characters however GitHub counts.
 */
export const reviewTextLimit = 60_000;
/** GitHub documents no cap on comments per review; 50 keeps one request small and readable. */
export const maxInlineComments = 50;
const cutNote = "\n\n… (cut to fit GitHub's limit)";

export interface ReviewFinding {
  file: string;
  line: number;
  severity: Severity;
  body: string;
  /** Whether the line is in the diff, so GitHub accepts an inline comment on it. */
  onDiff: boolean;
}

export interface ReviewToPost {
  pullNumber: number;
  headSha: string;
  /** Hidden marker, e.g. `<!-- shopfloor:review:<runId>:<reviewer>:<round> -->`: finds the review again. */
  marker: string;
  /** E.g. "Review by openai/gpt-5". */
  title: string;
  summary: string;
  findings: ReviewFinding[];
}

const rank: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/**
 * Post one `COMMENT` review (never APPROVE or REQUEST_CHANGES: people decide) with inline
 * comments on diff lines. Idempotent: a review of ours already carrying `marker` is returned
 * instead. Reviews carry no `performed_via_github_app`, so "ours" is a bot account's: a person
 * quoting the marker in a review cannot suppress Shopfloor's.
 */
export async function postReview(octokit: InstallationOctokit, at: RepoCoordinates, r: ReviewToPost): Promise<number> {
  const reviews = await octokit.paginate(octokit.rest.pulls.listReviews, {
    owner: at.owner,
    repo: at.repo,
    pull_number: r.pullNumber,
    per_page: 100,
  });
  const existing = reviews.find((review) => review.body?.includes(r.marker) && review.user?.type === "Bot");
  if (existing) return existing.id;

  const { inline, inBody } = placeFindings(r.findings);
  try {
    return await createReview(octokit, at, r, inline, inBody);
  } catch (error) {
    if (isCommitNotInPullRequest(error)) return await postOnCurrentHead(octokit, at, r);
    // A line GitHub cannot place (the diff moved under us) rejects the whole review; say it all in the body.
    if ((error as { status?: number }).status !== 422 || inline.length === 0) throw error;
    return await createReview(octokit, at, r, [], [...inline, ...inBody]);
  }
}

/** GitHub's 422 for a review whose `commit_id` a force-push took out of the PR. */
export function isCommitNotInPullRequest(error: unknown): boolean {
  const e = error as { status?: number; message?: string };
  return e.status === 422 && /not part of the pull request/i.test(e.message ?? "");
}

/**
 * The commit read was replaced on the branch (a force-push, a second copy of a build): the review
 * still says what the reviewer found, posted on the head the PR has now, every finding in the
 * body (their lines belong to the commit read) and that commit named.
 */
async function postOnCurrentHead(octokit: InstallationOctokit, at: RepoCoordinates, r: ReviewToPost): Promise<number> {
  const { data: pull } = await octokit.rest.pulls.get({ owner: at.owner, repo: at.repo, pull_number: r.pullNumber });
  const summary = `${r.summary}\n\n_Reviewed at ${r.headSha.slice(0, 12)}, which the branch no longer contains; the lines below refer to that commit._`;
  return await createReview(octokit, at, { ...r, headSha: pull.head.sha, summary }, [], r.findings);
}

/** The most severe diff findings go inline (up to the cap); the rest are listed in the body. */
export function placeFindings(findings: ReviewFinding[]): { inline: ReviewFinding[]; inBody: ReviewFinding[] } {
  const onDiff = findings.filter((f) => f.onDiff);
  const chosen = new Set(
    onDiff
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank[b.f.severity] - rank[a.f.severity] || a.i - b.i)
      .slice(0, maxInlineComments)
      .map(({ f }) => f),
  );
  return {
    inline: onDiff.filter((f) => chosen.has(f)),
    inBody: findings.filter((f) => !chosen.has(f)),
  };
}

async function createReview(
  octokit: InstallationOctokit,
  at: RepoCoordinates,
  r: ReviewToPost,
  inline: ReviewFinding[],
  inBody: ReviewFinding[],
): Promise<number> {
  const { data } = await octokit.rest.pulls.createReview({
    owner: at.owner,
    repo: at.repo,
    pull_number: r.pullNumber,
    commit_id: r.headSha,
    event: "COMMENT",
    body: reviewBody(r, inBody),
    comments: inline.map((f) => ({
      path: f.file,
      line: f.line,
      side: "RIGHT" as const,
      body: cutToFit(`**${f.severity}**: ${f.body}`, reviewTextLimit),
    })),
  });
  return data.id;
}

/** Marker first, so cutting the tail never loses it. */
export function reviewBody(r: Pick<ReviewToPost, "marker" | "title" | "summary">, inBody: ReviewFinding[]): string {
  const parts = [r.marker, `### ${r.title}`, r.summary];
  if (inBody.length > 0) {
    parts.push(
      "#### Findings not shown inline",
      inBody.map((f) => `- \`${f.file}:${f.line}\` **${f.severity}**: ${f.body.replace(/\n/g, "\n  ")}`).join("\n"),
    );
  }
  return cutToFit(parts.join("\n\n"), reviewTextLimit);
}

/** `text` cut to at most `maxBytes` UTF-8 bytes (note included), never inside a character. */
export function cutToFit(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(cutNote);
  let used = 0;
  let end = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (used + size > budget) break;
    used += size;
    end += ch.length;
  }
  return text.slice(0, end) + cutNote;
}

import type { Context } from "probot";
import { passGateForForeignPullRequest } from "../github/checks.js";

export interface ForeignPullRequestDeps {
  /** Whether a Shopfloor run owns this pull request: by its recorded number, or by its branch before the PR is recorded. */
  isRunPullRequest(owner: string, repo: string, pr: { number: number; headRef: string }): Promise<boolean>;
}

type PullRequestHead = Context<"pull_request.opened" | "pull_request.synchronize" | "pull_request.reopened">;

/**
 * A pull request no run owns gets the `Shopfloor gate` check as `success`, saying it is not a
 * run, so a required gate never locks people out of their own pull requests. A run's pull
 * request is left to the run. One request, well inside GitHub's 10 s.
 */
export async function intakeForeignPullRequest(context: PullRequestHead, deps: ForeignPullRequestDeps): Promise<void> {
  const { payload } = context;
  const pr = payload.pull_request;
  const { owner, repo } = context.repo();
  // Fields per line, not a child logger that serialises them at once: GitHub waits for the answer.
  const where = { deliveryId: context.id, repo: `${owner}/${repo}`, pullRequest: pr.number };
  // Runs push to the repository itself: a fork's branch is never a run's, whatever its name.
  const fromFork = pr.head.repo?.full_name !== payload.repository.full_name;
  if (!fromFork && (await deps.isRunPullRequest(owner, repo, { number: pr.number, headRef: pr.head.ref }))) {
    context.log.debug(where, "ignored: a Shopfloor run owns this pull request");
    return;
  }
  await passGateForForeignPullRequest(context.octokit, { owner, repo }, pr.head.sha, summaryFor(pr.head.ref));
  context.log.info({ ...where, headSha: pr.head.sha }, "gate passed: not a Shopfloor run");
}

function summaryFor(headRef: string): string {
  const lines = [
    "Shopfloor did not make this pull request, so its gate has nothing to hold it to and passes.",
    "The gate judges only pull requests that Shopfloor opens for a labelled issue; people review and merge this one as usual.",
  ];
  if (headRef.startsWith("shopfloor/")) lines.push(`The branch \`${headRef}\` is named like a Shopfloor branch, but no Shopfloor run pushed it.`);
  return lines.join("\n\n");
}

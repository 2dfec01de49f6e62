import type { Context } from "probot";
import type { Event } from "../domain/index.js";

export interface LifecycleIntakeDeps {
  persist(deliveryId: string, event: Event): Promise<boolean>;
  wake(): void;
  triggerLabel(owner: string, repo: string): string;
}

/** The run's issue number from a Shopfloor branch name, `shopfloor/<issue>-<slug>`. */
export function runIssueOfBranch(branch: string): number | undefined {
  const m = /^shopfloor\/(\d+)(?:-|$)/.exec(branch);
  return m ? Number(m[1]) : undefined;
}

async function persist(context: Context, deps: LifecycleIntakeDeps, event: Event): Promise<void> {
  if (await deps.persist(context.id, event)) deps.wake();
}

/** A Shopfloor PR closed: merged → the run is done; closed unmerged → cancelled. Fork PRs never count. */
export async function intakePullRequestClosed(context: Context<"pull_request.closed">, deps: LifecycleIntakeDeps): Promise<void> {
  const pr = context.payload.pull_request;
  if (pr.head.repo?.full_name !== context.payload.repository.full_name) return;
  const issue = runIssueOfBranch(pr.head.ref);
  if (issue === undefined) return;
  const { owner, repo } = context.repo();
  await persist(context, deps, {
    type: "pr.closed",
    runId: `${owner}/${repo}#${issue}`,
    at: new Date().toISOString(),
    merged: pr.merged === true,
    by: context.payload.sender.login,
    number: pr.number,
    branch: pr.head.ref,
  });
}

/** The trigger label came off the issue: the run stops. */
export async function intakeUnlabeled(context: Context<"issues.unlabeled">, deps: LifecycleIntakeDeps): Promise<void> {
  const { owner, repo } = context.repo();
  if (context.payload.label?.name !== deps.triggerLabel(owner, repo)) return;
  if (context.payload.sender.type === "Bot") return;
  await persist(context, deps, {
    type: "trigger.removed",
    runId: `${owner}/${repo}#${context.payload.issue.number}`,
    at: new Date().toISOString(),
    by: context.payload.sender.login,
  });
}

/**
 * Every push to a run branch goes to the engine, which knows which commits Shopfloor pushed: a
 * committer email can be forged, and a force-push to an older commit carries no commits at all.
 */
export async function intakeBranchPush(context: Context<"push">, deps: LifecycleIntakeDeps): Promise<void> {
  const { payload } = context;
  const branch = payload.ref.replace(/^refs\/heads\//, "");
  const issue = runIssueOfBranch(branch);
  if (issue === undefined || payload.deleted || !payload.after || /^0+$/.test(payload.after)) return;
  const { owner, repo } = context.repo();
  await persist(context, deps, {
    type: "branch.pushed",
    runId: `${owner}/${repo}#${issue}`,
    at: new Date().toISOString(),
    headSha: payload.after,
    by: payload.pusher?.name ?? payload.sender?.login ?? "someone",
    branch,
    forced: payload.forced === true,
  });
}

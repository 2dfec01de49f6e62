import type { Context } from "probot";
import type { Event } from "../domain/index.js";

export interface LifecycleIntakeDeps {
  persist(deliveryId: string, event: Event): Promise<boolean>;
  wake(): void;
  triggerLabel(owner: string, repo: string): string;
  /** The git identity Shopfloor commits as, to tell its own pushes from a person's. */
  botEmail: string;
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

/** Commits on a run branch that Shopfloor did not make: the run pauses and never overwrites them. */
export async function intakeBranchPush(context: Context<"push">, deps: LifecycleIntakeDeps): Promise<void> {
  const { payload } = context;
  const issue = runIssueOfBranch(payload.ref.replace(/^refs\/heads\//, ""));
  if (issue === undefined || payload.deleted || !payload.after || /^0+$/.test(payload.after)) return;
  const foreign = payload.commits.some((c) => c.committer?.email !== deps.botEmail);
  if (!foreign) return;
  const { owner, repo } = context.repo();
  await persist(context, deps, {
    type: "branch.pushed",
    runId: `${owner}/${repo}#${issue}`,
    at: new Date().toISOString(),
    headSha: payload.after,
    by: payload.pusher?.name ?? payload.sender?.login ?? "someone",
  });
}

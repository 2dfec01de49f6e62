import type { Context } from "probot";
import type { Event } from "../domain/index.js";

export interface StatusIntakeDeps {
  persist(deliveryId: string, event: Event): Promise<boolean>;
  wake(): void;
}

/** `shopfloor/<issue>-<slug>`: the run branch names its issue, so no lookup is needed here. */
const runBranch = /^shopfloor\/(\d+)(?:-|$)/;

/**
 * A legacy commit status (Jenkins, Travis, older integrations) was set on a commit: when that
 * commit is the tip of a Shopfloor branch, the run reads its CI again, as after a check suite.
 * GitHub lists the branches that contain the commit, not only those whose tip it is: a status on
 * the base commit (contained in every run branch) concerns no run.
 */
export async function intakeStatus(context: Context<"status">, deps: StatusIntakeDeps): Promise<void> {
  const { sha, branches } = context.payload;
  const issue = branches.filter((b) => b.commit.sha === sha).map((b) => runBranch.exec(b.name)?.[1]).find((n) => n !== undefined);
  if (!issue) return;
  const { owner, repo } = context.repo();
  const event: Event = { type: "ci.completed", runId: `${owner}/${repo}#${issue}`, at: new Date().toISOString(), headSha: sha };
  if (await deps.persist(context.id, event)) deps.wake();
}

import type { Context } from "probot";
import type { Event } from "../domain/index.js";

export interface CheckSuiteIntakeDeps {
  ownAppId: number | undefined;
  persist(deliveryId: string, event: Event): Promise<boolean>;
  wake(): void;
}

/**
 * Another app's check suite finished on a Shopfloor branch: a hint for the run to read CI
 * again. The branch name carries the issue number, so no lookup is needed here.
 */
export async function intakeCheckSuite(context: Context<"check_suite.completed">, deps: CheckSuiteIntakeDeps): Promise<void> {
  const suite = context.payload.check_suite;
  if (deps.ownAppId !== undefined && suite.app?.id === deps.ownAppId) return;
  const issue = /^shopfloor\/(\d+)(?:-|$)/.exec(suite.head_branch ?? "")?.[1];
  if (!issue) return;
  const { owner, repo } = context.repo();
  const event: Event = { type: "ci.completed", runId: `${owner}/${repo}#${issue}`, at: new Date().toISOString(), headSha: suite.head_sha };
  if (await deps.persist(context.id, event)) deps.wake();
}

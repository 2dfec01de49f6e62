import type { Context } from "probot";

/**
 * A push to the default branch that touches `.github/shopfloor.yml` may change the trigger
 * label; re-read it then, so label events never need a config read of their own.
 */
export async function intakePush(
  context: Context<"push">,
  configPath: string,
  refresh: (owner: string, repo: string) => Promise<void>,
): Promise<void> {
  const { payload } = context;
  if (payload.ref !== `refs/heads/${payload.repository.default_branch}`) return;
  const touched = payload.commits.some((c) => [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])].includes(configPath));
  if (!touched) return;
  const { owner, repo } = context.repo();
  await refresh(owner, repo);
}

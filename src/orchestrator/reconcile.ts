import type { Event, Run } from "../domain/index.js";
import type { InstallationOctokit } from "../github/octokit.js";
import { canWrite } from "../github/permissions.js";
import { isWatched } from "../store/run-index.js";
import type { RunStore } from "../store/run-store.js";

export interface ReconcileDeps {
  store: RunStore;
  appOctokit(): Promise<InstallationOctokit>;
  octokitFor(installationId: number): Promise<InstallationOctokit>;
  triggerLabel(owner: string, repo: string): string;
  now?: () => Date;
}

/**
 * GitHub does not redeliver and gives no order: compare what it says with the runs. A labelled
 * open issue without a run starts one (if whoever labelled it may write), with a delivery id
 * derived from the label event, so a later redelivery or sweep never starts it twice. A run
 * whose PR was merged or closed while its delivery was lost learns it: only watched runs are
 * asked about (a PR that may still change them), so a PR known to be merged or closed costs
 * nothing, however long ago it ended.
 */
export async function reconcile(deps: ReconcileDeps): Promise<Event[]> {
  const events: Event[] = [];
  const at = (deps.now?.() ?? new Date()).toISOString();
  const app = await deps.appOctokit();
  const installations = await app.paginate(app.rest.apps.listInstallations, { per_page: 100 });
  for (const installation of installations) {
    const octokit = await deps.octokitFor(installation.id);
    const repos = await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 });
    for (const repo of repos) {
      const owner = repo.owner.login;
      const label = deps.triggerLabel(owner, repo.name);
      const issues = await octokit.paginate(octokit.rest.issues.listForRepo, { owner, repo: repo.name, labels: label, state: "open", per_page: 100 });
      for (const issue of issues) {
        if (issue.pull_request) continue;
        const runId = `${owner}/${repo.name}#${issue.number}`;
        if (await deps.store.load(runId)) continue;
        const timeline = await octokit.paginate(octokit.rest.issues.listEvents, { owner, repo: repo.name, issue_number: issue.number, per_page: 100 });
        const labelled = [...timeline].reverse().find((e) => e.event === "labeled" && (e as { label?: { name?: string } }).label?.name === label);
        const actor = labelled?.actor;
        if (!labelled || !actor || actor.type === "Bot") continue;
        if (!(await canWrite(octokit, { owner, repo: repo.name }, actor.login))) continue;
        events.push({
          type: "run.requested",
          runId,
          at,
          deliveryId: `reconcile:${labelled.id}`,
          repo: { owner, name: repo.name, installationId: installation.id },
          issue: { number: issue.number, title: issue.title, body: issue.body ?? "" },
          sender: actor.login,
        });
      }
    }
  }
  for (const runId of await deps.store.listWatchedRuns()) {
    const run = await deps.store.load(runId);
    if (!run || !isWatched(run)) continue;
    events.push(...(await pullRequestState(deps, run, at)));
  }
  return events;
}

async function pullRequestState(deps: ReconcileDeps, run: Run, at: string): Promise<Event[]> {
  const octokit = await deps.octokitFor(run.repo.installationId);
  const { data: pr } = await octokit.rest.pulls.get({ owner: run.repo.owner, repo: run.repo.name, pull_number: run.pr!.number });
  if (pr.state !== "closed") return [];
  return [{ type: "pr.closed", runId: run.id, at, merged: pr.merged === true, by: pr.merged_by?.login ?? "someone" }];
}

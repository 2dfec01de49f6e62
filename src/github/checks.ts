import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

export const gateCheckName = "Shopfloor gate";

/** GitHub's limits on check run output. */
const limits = { title: 255, summary: 65_535 };

/**
 * Complete the gate check on `headSha`. A check run of ours with the same `external_id`
 * on that commit is updated instead of creating a second one.
 */
export async function publishGateCheck(
  octokit: InstallationOctokit,
  at: RepoCoordinates,
  gate: { headSha: string; externalId: string; conclusion: "success" | "failure" | "action_required"; title: string; summary: string },
): Promise<number> {
  const output = { title: gate.title.slice(0, limits.title), summary: gate.summary.slice(0, limits.summary) };
  const { data } = await octokit.rest.checks.listForRef({
    owner: at.owner,
    repo: at.repo,
    ref: gate.headSha,
    check_name: gateCheckName,
    filter: "latest",
    per_page: 100,
  });
  const mine = data.check_runs.find((c) => c.external_id === gate.externalId);
  const completedAt = new Date().toISOString();
  if (mine) {
    await octokit.rest.checks.update({
      owner: at.owner,
      repo: at.repo,
      check_run_id: mine.id,
      status: "completed",
      conclusion: gate.conclusion,
      completed_at: completedAt,
      output,
    });
    return mine.id;
  }
  const created = await octokit.rest.checks.create({
    owner: at.owner,
    repo: at.repo,
    name: gateCheckName,
    head_sha: gate.headSha,
    external_id: gate.externalId,
    status: "completed",
    conclusion: gate.conclusion,
    completed_at: completedAt,
    output,
  });
  return created.data.id;
}

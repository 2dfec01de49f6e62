import type { CiCheck } from "../domain/index.js";
import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

export type { CiCheck };

/**
 * Pages of the combined status read at most (100 contexts a page). A commit with more than a
 * thousand status contexts is not CI a person follows; the bound keeps one read bounded.
 */
const maxStatusPages = 10;

/**
 * The repo's own CI on `headSha`: other apps' check suites and legacy commit statuses.
 *
 * Which suites count: GitHub creates a suite for every app subscribed to check suites on every
 * push, and a suite in which the app never creates a check run stays `queued` forever. A suite
 * counts only once it has at least one check run (`latest_check_runs_count > 0`); our own app's
 * suite and check runs (`ownAppId`: the `Shopfloor gate` check) never count. A suite that has
 * runs is reported run by run (the name a person knows and the page with its log); if its runs
 * are not listed yet, as the suite itself. The cost of the rule: CI that has not created its
 * first run yet is not seen, so callers wait a grace period before reading "no CI" as "no CI
 * configured".
 */
export async function readCi(octokit: InstallationOctokit, at: RepoCoordinates, headSha: string, ownAppId?: number): Promise<CiCheck[]> {
  return [...(await readCheckRuns(octokit, at, headSha, ownAppId)), ...(await readStatuses(octokit, at, headSha))];
}

async function readCheckRuns(octokit: InstallationOctokit, at: RepoCoordinates, headSha: string, ownAppId: number | undefined): Promise<CiCheck[]> {
  const suites = await octokit.paginate(octokit.rest.checks.listSuitesForRef, { owner: at.owner, repo: at.repo, ref: headSha, per_page: 100 });
  const counted = suites.filter((s) => s.app?.id !== ownAppId && (s.latest_check_runs_count ?? 0) > 0);
  if (counted.length === 0) return [];

  const runs = await octokit.paginate(octokit.rest.checks.listForRef, { owner: at.owner, repo: at.repo, ref: headSha, filter: "latest", per_page: 100 });
  const checks: CiCheck[] = [];
  for (const suite of counted) {
    const own = runs.filter((r) => r.check_suite?.id === suite.id && (ownAppId === undefined || r.app?.id !== ownAppId));
    const app = suite.app?.slug ?? suite.app?.name ?? "unknown";
    if (own.length === 0) {
      checks.push({
        name: suite.app?.name ?? app,
        app,
        status: suite.status ?? "queued",
        conclusion: suite.conclusion ?? null,
        url: `${suite.repository.html_url}/commit/${headSha}/checks?check_suite_id=${suite.id}`,
        details: "",
      });
      continue;
    }
    for (const run of own) {
      const output = [run.output?.title, run.output?.summary, run.output?.text].filter((t): t is string => Boolean(t)).join("\n\n");
      checks.push({ name: run.name, app, status: run.status, conclusion: run.conclusion ?? null, url: run.html_url ?? run.url, details: output.slice(0, 6000) });
    }
  }
  return checks;
}

/**
 * Legacy commit statuses (Jenkins, Travis, older integrations), latest per context, mapped to the
 * check shape. Paged by hand: `octokit.paginate` does not unwrap the combined status (its body
 * carries a `url`, so it is not taken for a list), and GitHub returns 100 contexts a page at most.
 */
async function readStatuses(octokit: InstallationOctokit, at: RepoCoordinates, headSha: string): Promise<CiCheck[]> {
  const checks: CiCheck[] = [];
  for (let page = 1; page <= maxStatusPages; page++) {
    const { data: combined, headers } = await octokit.rest.repos.getCombinedStatusForRef({ owner: at.owner, repo: at.repo, ref: headSha, per_page: 100, ...(page > 1 && { page }) });
    for (const s of combined.statuses) {
      const done = s.state !== "pending";
      checks.push({
        name: s.context,
        app: "commit-status",
        status: done ? "completed" : "in_progress",
        conclusion: done ? (s.state === "error" ? "failure" : s.state) : null,
        url: s.target_url ?? combined.commit_url ?? "",
        details: s.description ?? "",
      });
    }
    // A short page is the last; a full one is followed while GitHub links a next page.
    if (combined.statuses.length < 100 || !/rel="next"/.test(headers.link ?? "")) break;
  }
  return checks;
}

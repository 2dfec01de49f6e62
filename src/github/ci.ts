import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

export interface CiCheck {
  /** Check run name, or the status context for a legacy commit status. */
  name: string;
  /** App slug, or `commit-status` for a legacy commit status (the combined status names no creator). */
  app: string;
  /** `queued`, `in_progress` or `completed` (legacy `pending` reads as `in_progress`). */
  status: string;
  /** Set once completed; a legacy `error` reads as `failure`. */
  conclusion: string | null;
  url: string;
  /** What the check said about itself (output title, summary and text; a status's description), for a fix brief. */
  details: string;
}

/**
 * The repo's own CI on `headSha`: other apps' check suites and legacy commit statuses.
 *
 * Which suites count: GitHub creates a suite for every app subscribed to check suites on every
 * push, and a suite in which the app never creates a check run stays `queued` forever. A suite
 * counts only once it has at least one check run (`latest_check_runs_count > 0`); our own app's
 * suite (`ownAppId`) never counts. A suite that has runs is reported run by run (the name a
 * person knows and the page with its log); if its runs are not listed yet, as the suite itself.
 * The cost of the rule: CI that has not created its first run yet is not seen, so callers wait
 * a grace period before reading "no CI" as "no CI configured".
 */
export async function readCi(octokit: InstallationOctokit, at: RepoCoordinates, headSha: string, ownAppId?: number): Promise<CiCheck[]> {
  const suites = await octokit.paginate(octokit.rest.checks.listSuitesForRef, { owner: at.owner, repo: at.repo, ref: headSha, per_page: 100 });
  const counted = suites.filter((s) => s.app?.id !== ownAppId && (s.latest_check_runs_count ?? 0) > 0);

  const checks: CiCheck[] = [];
  if (counted.length > 0) {
    const runs = await octokit.paginate(octokit.rest.checks.listForRef, { owner: at.owner, repo: at.repo, ref: headSha, filter: "latest", per_page: 100 });
    for (const suite of counted) {
      const own = runs.filter((r) => r.check_suite?.id === suite.id);
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
  }

  const { data: combined } = await octokit.rest.repos.getCombinedStatusForRef({ owner: at.owner, repo: at.repo, ref: headSha, per_page: 100 });
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
  return checks;
}

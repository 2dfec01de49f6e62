import type { Run } from "../domain/index.js";
import type { RepoCoordinates } from "../github/octokit.js";
import { renderPullRequestBody } from "../orchestrator/render.js";
import type { LocalGitHub } from "./github-model.js";
import { publishPullRequest } from "./publish.js";
import { gateCheck } from "./report.js";

/**
 * `--pr` once the run has ended: the branch, the draft PR with the body the stand-in got, and the
 * gate as it concluded, on GitHub. A failure here is a line for the person, not a crash: the
 * local result stands.
 */
export async function publishToGitHub(
  run: Run,
  github: LocalGitHub,
  to: { dir: string; at: RepoCoordinates; base: string; token: string; branchSha: string | undefined },
  env: NodeJS.ProcessEnv,
): Promise<{ ok: boolean; line: string }> {
  const check = gateCheck(run, github);
  const conclusion = run.gate?.conclusion;
  if (!to.branchSha) return { ok: false, line: "--pr: nothing to push, the run made no change" };
  if (!check || !conclusion) return { ok: false, line: "--pr: the gate has not concluded, so there is no pull request to open" };
  const pull = run.pr ? github.pulls.find((p) => p.number === run.pr!.number) : undefined;
  try {
    const published = await publishPullRequest(
      to.dir,
      to.at,
      to.token,
      {
        branch: run.branch,
        base: to.base,
        title: run.issue.title,
        body: forGitHub(pull?.body ?? renderPullRequestBody(run)),
        gate: { headSha: check.headSha, runId: run.id, conclusion, title: check.title, summary: check.summary },
      },
      env,
    );
    return { ok: true, line: `Pull request: ${published.url} (draft, gate \`${conclusion}\` as a ${published.gate})` };
  } catch (error) {
    return { ok: false, line: `--pr failed: ${(error as Error).message.split(to.token).join("***")}` };
  }
}

/** The local issue's number means another issue on GitHub: `Closes #N` must not close it. */
export function forGitHub(body: string): string {
  return body.replace(/^Closes #\d+\n/m, "").replace(/<!-- shopfloor:[^>]*-->\n?/g, "");
}

import { ProbotOctokit } from "probot";
import { publishGateCheck, gateCheckName, type GateConclusion } from "../github/checks.js";
import type { InstallationOctokit, RepoCoordinates } from "../github/octokit.js";
import { findOrCreatePullRequest } from "../github/pulls.js";
import { credentialArgs } from "../workspace/credentials.js";
import { GitError, runGit } from "../workspace/git.js";
import { gitRemoteUrl } from "../workspace/remote.js";

/** The GitHub host remotes are matched against: the one Probot and the workspace use (GHE_HOST). */
const githubHost = (env: NodeJS.ProcessEnv) => env.GHE_HOST || "github.com";

/** `owner/name` of a remote URL on `host`: https, ssh (`git@host:o/n.git`) or `ssh://`. */
export function parseGitHubRemote(url: string, host: string): RepoCoordinates | undefined {
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const m = new RegExp(`^(?:[a-z+]+://(?:[^@/]*@)?${escaped}/|(?:[^@/]+@)?${escaped}:)([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\\.git)?/?$`).exec(url.trim());
  return m ? { owner: m[1]!, repo: m[2]! } : undefined;
}

/** The repository's GitHub remote (`origin` first), or what is missing. */
export async function findGitHubRemote(dir: string, env: NodeJS.ProcessEnv): Promise<RepoCoordinates | string> {
  const host = githubHost(env);
  const names = (await runGit(["remote"], { cwd: dir })).stdout.split("\n").filter(Boolean);
  for (const name of [...names.filter((n) => n === "origin"), ...names.filter((n) => n !== "origin")]) {
    const url = (await runGit(["remote", "get-url", name], { cwd: dir })).stdout.trim();
    const found = parseGitHubRemote(url, host);
    if (found) return found;
  }
  return `--pr needs a remote on ${host} (git remote add origin https://${host}/<owner>/<repo>.git); ${dir} has ${names.length === 0 ? "none" : names.join(", ")}`;
}

export interface PullRequestToPublish {
  branch: string;
  base: string;
  title: string;
  body: string;
  gate: { headSha: string; runId: string; conclusion: GateConclusion; title: string; summary: string };
}

/** Where the gate went: a check run, or a commit status when the token may not write check runs. */
export interface Published {
  url: string;
  gate: "check run" | "commit status";
}

/**
 * `shopfloor run --pr`: push the run branch from the local repository to GitHub and open the same
 * draft PR with the same gate there. The token reaches git through the credential helper, never
 * a URL. The push never forces: commits someone pushed to that branch on GitHub stay.
 */
export async function publishPullRequest(dir: string, at: RepoCoordinates, token: string, pr: PullRequestToPublish, env: NodeJS.ProcessEnv): Promise<Published> {
  const cred = credentialArgs(token);
  const url = gitRemoteUrl({ owner: at.owner, name: at.repo }, env);
  try {
    await runGit([...cred.args, "-c", "core.hooksPath=/dev/null", "push", "--quiet", "--no-verify", url, `refs/heads/${pr.branch}:refs/heads/${pr.branch}`], { cwd: dir, env: cred.env });
  } catch (error) {
    if (error instanceof GitError && /rejected|non-fast-forward|fetch first/.test(error.stderr)) {
      throw new Error(`${pr.branch} on GitHub has commits the local branch does not: not overwritten (${error.stderr.trim().split("\n").at(-1)})`);
    }
    throw error;
  }
  const octokit = githubClient(token, env);
  const opened = await findOrCreatePullRequest(octokit, at, { head: pr.branch, base: pr.base, title: pr.title, body: pr.body });
  const gate = { headSha: pr.gate.headSha, externalId: pr.gate.runId, conclusion: pr.gate.conclusion, title: pr.gate.title, summary: pr.gate.summary };
  try {
    await publishGateCheck(octokit, at, gate);
    return { url: opened.url, gate: "check run" };
  } catch (error) {
    // Only a GitHub App may write check runs; a person's token gets 403. A commit status of the
    // same name carries the outcome instead (never a passing one for a gate that did not pass).
    if ((error as { status?: number }).status !== 403) throw error;
    await octokit.rest.repos.createCommitStatus({
      owner: at.owner,
      repo: at.repo,
      sha: pr.gate.headSha,
      state: pr.gate.conclusion === "success" ? "success" : "failure",
      context: gateCheckName,
      description: pr.gate.title.slice(0, 140),
    });
    return { url: opened.url, gate: "commit status" };
  }
}

/** A client for the person's token, on github.com or GitHub Enterprise Server (GHE_HOST). */
function githubClient(token: string, env: NodeJS.ProcessEnv): InstallationOctokit {
  const baseUrl = env.GHE_HOST ? `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST}/api/v3` : "https://api.github.com";
  return new ProbotOctokit({ auth: { token }, baseUrl, retry: { enabled: false }, throttle: { enabled: false } }) as InstallationOctokit;
}

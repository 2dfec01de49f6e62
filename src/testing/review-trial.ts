import type { z } from "zod";
import { mkdir, realpath, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PlanSchema, type Failure, type Job, type Plan, type RepoConfig, type Review, type Usage } from "../domain/index.js";
import { checkBudget } from "../orchestrator/budget.js";
import { runGit } from "../workspace/git.js";
import { trialAuthor } from "./snapshot.js";
import { trialRepo, withTrial, type TrialBase } from "./trial.js";

export interface ReviewTrial extends TrialBase {
  /** The change under review, on top of `repo` as it is: path → new text, or null to delete the file. */
  change: Record<string, string | null>;
  /** What the change was planned to do: the reviewers check it against this plan and its contract. */
  plan: z.input<typeof PlanSchema>;
}

/** One reviewer of the quorum: its answer, or the typed failure a runner would report. */
export type ReviewerTrialOutcome = { reviewer: string; route: string } & ({ ok: true; review: Review } | { ok: false; failure: Failure; usage: Usage[] });

export interface ReviewTrialOutcome {
  /** What the app would log about shopfloor.yml, e.g. a deprecated model. */
  configWarnings: string[];
  baseSha: string;
  headSha: string;
  /** One per route of `review.reviewers` in shopfloor.yml (default: the shipped pair), in that order. */
  reviews: ReviewerTrialOutcome[];
}

/**
 * The review jobs a run dispatches once its change is built: each reviewer of the quorum that
 * shopfloor.yml names reads the diff with the reviewer card, AGENTS.md from the base, the plan
 * and its contract, read-only tools, the reviewer limits and the budget cap, one after another.
 * Findings are placed on the diff as they would be for PR comments; a finding on a file the
 * change does not touch fails that review, as it would on a real run.
 */
export async function runReviewers(trial: ReviewTrial): Promise<ReviewTrialOutcome> {
  const plan = PlanSchema.parse(trial.plan);
  return withTrial(trial, async ({ config, warnings, origin, handle }) => {
    const { baseSha, headSha } = await commitChange(origin, trial.change);
    const reviews: ReviewerTrialOutcome[] = [];
    for (const [index, route] of config.review.reviewers.entries()) {
      const reviewer = `r${index + 1}`;
      const outcome = await handle(reviewJob(config, plan, { reviewer, route, baseSha, headSha }));
      if (!outcome.ok) reviews.push({ reviewer, route, ok: false, failure: outcome.failure, usage: outcome.usage });
      else if (outcome.output.kind !== "review") throw new Error(`shopfloor/testing: a review job answered with a ${outcome.output.kind}`);
      else reviews.push({ reviewer, route, ok: true, review: outcome.output.review });
    }
    return { configWarnings: warnings, baseSha, headSha, reviews };
  });
}

function reviewJob(config: RepoConfig, plan: Plan, at: { reviewer: string; route: string; baseSha: string; headSha: string }): Job {
  const limits = config.agents.reviewer;
  return {
    kind: "review",
    jobId: `trial:review:${at.reviewer}:r1:a1`,
    runId: "trial/repo#1",
    repo: trialRepo,
    attempt: 1,
    baseSha: at.baseSha,
    headSha: at.headSha,
    reviewer: at.reviewer,
    route: at.route,
    plan,
    round: 1,
    priorFindings: [],
    cap: checkBudget(config.budget, []).cap,
    ...(limits && { limits }),
  };
}

/** The change as one commit on the snapshot's `main`: the snapshot is the base, the commit the head. */
async function commitChange(origin: string, change: Record<string, string | null>): Promise<{ baseSha: string; headSha: string }> {
  const work = join(await realpath(dirname(origin)), "change");
  const git = async (args: string[]) => (await runGit(["-c", "core.hooksPath=/dev/null", ...args], { cwd: work, env: trialAuthor })).stdout.trim();
  await runGit(["clone", "--quiet", origin, work], { cwd: dirname(origin) });
  const baseSha = await git(["rev-parse", "HEAD"]);
  const inside = (p: string) => p.startsWith(`${work}/`);
  for (const [path, text] of Object.entries(change)) {
    const file = join(work, path);
    const outside = () => new Error(`shopfloor/testing: ${path} is not a path inside the repository`);
    if (!inside(file)) throw outside();
    // A symlinked folder of the repository must not lead a write (or a new folder) elsewhere.
    if (!inside(`${await realpath(await deepestExisting(dirname(file)))}/`)) throw outside();
    await mkdir(dirname(file), { recursive: true });
    if (text === null) await rm(file, { force: true });
    else await writeFile(file, text);
  }
  await git(["add", "--all"]);
  await git(["commit", "--quiet", "--allow-empty", "-m", "shopfloor/testing: the change under review"]);
  await git(["push", "--quiet", "origin", "HEAD:main"]);
  return { baseSha, headSha: await git(["rev-parse", "HEAD"]) };
}

/** `dir` itself, or its nearest ancestor that exists. */
async function deepestExisting(dir: string): Promise<string> {
  for (let at = dir; ; at = dirname(at)) {
    if (await stat(at).then(() => true, () => false)) return at;
    if (dirname(at) === at) return at;
  }
}

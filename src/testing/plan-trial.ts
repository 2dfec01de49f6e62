import type { Failure, Job, Plan, RepoConfig, Usage } from "../domain/index.js";
import { checkBudget } from "../orchestrator/budget.js";
import { checkPlan } from "../orchestrator/plan-check.js";
import { trialRepo, withTrial, type TrialBase } from "./trial.js";

export interface PlannerTrial extends TrialBase {
  issue: { number?: number; title: string; body?: string };
}

export type PlannerTrialOutcome = {
  /** The route the planner was asked on: `models.planner` of shopfloor.yml, else the card's `model`. */
  route: string;
  /** What the app would log about shopfloor.yml, e.g. a deprecated model. */
  configWarnings: string[];
  usage: Usage[];
} & (
  | { ok: true; plan: Plan; /** What the plan checker would send back to the planner; empty when the plan is accepted. */ planProblems: string[] }
  | { ok: false; failure: Failure }
);

/**
 * One planner job on a directory, as a runner runs it for a labelled issue: the repo's config,
 * the planner card with AGENTS.md, the issue as quoted data, read-only tools, the turn cap and
 * the job's budget cap, and the plan validated and checked. Throws when shopfloor.yml or a card
 * is invalid, naming the field, as the app would refuse to start the run.
 */
export async function runPlanner(trial: PlannerTrial): Promise<PlannerTrialOutcome> {
  return withTrial(trial, async ({ config, warnings, cards, handle }) => {
    const route = config.models.planner ?? cards.get("planner")!.model;
    const outcome = await handle(plannerJob(trial, config));
    const common = { route, configWarnings: warnings };
    if (!outcome.ok) return { ...common, ok: false, failure: outcome.failure, usage: outcome.usage };
    if (outcome.output.kind !== "plan") throw new Error(`shopfloor/testing: a plan job answered with a ${outcome.output.kind}`);
    const { plan, usage } = outcome.output;
    return { ...common, ok: true, plan, planProblems: checkPlan(plan), usage };
  });
}

/** The job the orchestrator would dispatch first: its route, limits and budget cap come from the config. */
function plannerJob(trial: PlannerTrial, config: RepoConfig): Job {
  const limits = config.agents.planner;
  return {
    kind: "plan",
    jobId: "trial:plan:1",
    runId: `trial/repo#${trial.issue.number ?? 1}`,
    repo: trialRepo,
    attempt: 1,
    defaultBranch: "main",
    issue: { number: trial.issue.number ?? 1, title: trial.issue.title, body: trial.issue.body ?? "" },
    cap: checkBudget(config.budget, []).cap,
    ...(config.models.planner && { route: config.models.planner }),
    ...(limits && { limits }),
  };
}

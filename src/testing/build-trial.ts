import type { z } from "zod";
import { PlanSchema, type Failure, type Job, type Plan, type RepoConfig, type Result, type Usage } from "../domain/index.js";
import { checkBudget } from "../orchestrator/budget.js";
import { runGit } from "../workspace/git.js";
import { trialRepo, withTrial, type TrialBase } from "./trial.js";

export interface BuildTrial extends TrialBase {
  /** The plan the subtask belongs to, as the planner would have returned it. */
  plan: z.input<typeof PlanSchema>;
  /** Which of the plan's subtasks to run (a `generate`, `test` or `review` one). */
  subtask: string;
  issue?: { number?: number; title: string };
}

export type BuildTrialOutcome = {
  /** The route the worker was asked on: `models.generator`/`tester`/`reviewer` of shopfloor.yml, else the card's `model`. */
  route: string;
  /** What the app would log about shopfloor.yml, e.g. a deprecated model. */
  configWarnings: string[];
} & (
  | {
      ok: true;
      /** The worker's report, its handoff, and the commit it made (`artifact`), as the run records it. */
      result: Result;
      /** The change the worker made, as `git diff` of the base and its commit; empty when it changed nothing. */
      diff: string;
    }
  | { ok: false; failure: Failure; usage: Usage[] }
);

const roleCard = { generate: "generator", test: "tester", review: "reviewer" } as const;

/**
 * One build job of a plan's subtask on a directory, as a runner runs it: the role's card with
 * AGENTS.md, the brief with the plan and the contract, the role's tools in a worktree of the
 * snapshot, the files it owns, its limits and the budget cap; its commit checked against what
 * it may write. Commands it runs (`run_command`, the install of the setup phase) are refused
 * with exit 126: a trial never runs the repository's code. Throws when shopfloor.yml or a card is
 * invalid, or when the plan has no such subtask.
 */
export async function runBuilder(trial: BuildTrial): Promise<BuildTrialOutcome> {
  const plan = PlanSchema.parse(trial.plan);
  const subtask = plan.subtasks.find((s) => s.id === trial.subtask);
  if (!subtask) throw new Error(`shopfloor/testing: the plan has no subtask "${trial.subtask}" (it has ${plan.subtasks.map((s) => `"${s.id}"`).join(", ")})`);
  return withTrial(trial, async ({ config, warnings, cards, origin, handle }) => {
    const baseSha = (await runGit(["--git-dir", origin, "rev-parse", "main"], { cwd: origin })).stdout.trim();
    const job = buildJob(config, plan, trial, subtask.id, baseSha);
    const route = (job.kind === "build" && job.route) || cards.get(roleCard[subtask.role])!.model;
    const outcome = await handle(job);
    const common = { route, configWarnings: warnings };
    if (!outcome.ok) return { ...common, ok: false, failure: outcome.failure, usage: outcome.usage };
    if (outcome.output.kind !== "build") throw new Error(`shopfloor/testing: a build job answered with a ${outcome.output.kind}`);
    const { result } = outcome.output;
    const diff = result.artifact.headSha === baseSha ? "" : (await runGit(["--git-dir", origin, "diff", baseSha, result.artifact.headSha], { cwd: origin })).stdout;
    return { ...common, ok: true, result, diff };
  });
}

/** The job the orchestrator would dispatch for the subtask on a fresh run: its route, limits and cap come from the config. */
function buildJob(config: RepoConfig, plan: Plan, trial: BuildTrial, subtaskId: string, baseSha: string): Job {
  const subtask = plan.subtasks.find((s) => s.id === subtaskId)!;
  const role = roleCard[subtask.role];
  const route = config.models[role];
  const limits = config.agents[role];
  const number = trial.issue?.number ?? 1;
  return {
    kind: "build",
    jobId: `trial:build:${subtask.id}:a1`,
    runId: `trial/repo#${number}`,
    repo: trialRepo,
    attempt: 1,
    fromSha: baseSha,
    baseSha,
    branch: `shopfloor/${number}-trial`,
    subtask,
    plan,
    issue: { number, title: trial.issue?.title ?? plan.summary },
    ...(route !== undefined && { route }),
    allowedCommands: [],
    // Nothing is installed: a trial runs no commands.
    setup: { install: "", allow: [] },
    integrate: false,
    cap: checkBudget(config.budget, []).cap,
    ...(limits && { limits }),
  };
}

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { parseRepoConfig, repoConfigPath } from "../config/repo-config.js";
import type { Failure, Job, Plan, RepoConfig, Usage } from "../domain/index.js";
import { deprecationNotice } from "../models/deprecated.js";
import { createModel, endpointFor } from "../models/route.js";
import { checkBudget } from "../orchestrator/budget.js";
import { checkPlan } from "../orchestrator/plan-check.js";
import { createJobHandler } from "../workers/handle.js";
import { loadRoleCards } from "../workers/role-card.js";
import type { SandboxOutcome } from "../workspace/types.js";
import { Workspace } from "../workspace/workspace.js";
import { snapshotDirectory } from "./snapshot.js";

/** The cards Shopfloor ships (`agents/` at the package root, from src/testing or dist/testing alike). */
const shippedAgentsDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../agents");

export interface PlannerTrial {
  /** The repository the planner reads: its working tree as it is, `.github/shopfloor.yml` and AGENTS.md included. */
  repo: string;
  /** The role cards, as `SHOPFLOOR_AGENTS_DIR` would name them (all four roles); default: the shipped cards. */
  agentsDir?: string;
  issue: { number?: number; title: string; body?: string };
  /** Where models are: `server.env` of the scripted server. Never read from `process.env`, so a test cannot reach a vendor by accident. */
  env: Record<string, string | undefined>;
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
  const { config, warnings } = await readRepoConfig(trial.repo);
  const cards = await loadRoleCards(trial.agentsDir ?? shippedAgentsDir);
  const route = config.models.planner ?? cards.get("planner")!.model;
  const tmp = await mkdtemp(join(tmpdir(), "shopfloor-testing-"));
  try {
    const origin = join(tmp, "origin.git");
    await snapshotDirectory(trial.repo, origin);
    const handle = createJobHandler({
      workspace: new Workspace({ workDir: join(tmp, "work"), tokenFor: async () => "unused-by-local-remotes", remoteUrlFor: () => origin }),
      cards,
      modelFor: (r) => createModel(r, trial.env),
      endpointFor: (r) => endpointFor(r, trial.env),
      sandbox: refuseCommands,
      commandTimeoutMs: 1,
      secrets: [],
      author: { name: "shopfloor/testing", email: "testing@shopfloor.invalid" },
      scratchDir: join(tmp, "scratch"),
    });
    const outcome = await handle(plannerJob(trial, config));
    const common = { route, configWarnings: warnings };
    if (!outcome.ok) return { ...common, ok: false, failure: outcome.failure, usage: outcome.usage };
    if (outcome.output.kind !== "plan") throw new Error(`shopfloor/testing: a plan job answered with a ${outcome.output.kind}`);
    const { plan, usage } = outcome.output;
    return { ...common, ok: true, plan, planProblems: checkPlan(plan), usage };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The job the orchestrator would dispatch first: its route, limits and budget cap come from the config. */
function plannerJob(trial: PlannerTrial, config: RepoConfig): Job {
  const limits = config.agents.planner;
  return {
    kind: "plan",
    jobId: "trial:plan:1",
    runId: `trial/repo#${trial.issue.number ?? 1}`,
    repo: { owner: "trial", name: "repo", installationId: 0 },
    attempt: 1,
    defaultBranch: "main",
    issue: { number: trial.issue.number ?? 1, title: trial.issue.title, body: trial.issue.body ?? "" },
    cap: checkBudget(config.budget, []).cap,
    ...(config.models.planner && { route: config.models.planner }),
    ...(limits && { limits }),
  };
}

async function readRepoConfig(repo: string): Promise<{ config: RepoConfig; warnings: string[] }> {
  let text: string | undefined;
  try {
    text = await readFile(join(repo, repoConfigPath), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  let raw: unknown = {};
  try {
    raw = text === undefined ? {} : parseYaml(text);
  } catch (error) {
    throw new Error(`${repoConfigPath} is not valid YAML: ${(error as Error).message}`);
  }
  const parsed = parseRepoConfig(raw, { deprecationNotice });
  if (!parsed.ok) throw new Error(`${repoConfigPath}: ${parsed.errors.join("; ")}`);
  return { config: parsed.config, warnings: parsed.warnings };
}

/** A planner never runs commands; should a card's job ask, it is refused as in production. */
async function refuseCommands(): Promise<SandboxOutcome> {
  return { exitCode: 126, ms: 0, output: "shopfloor/testing runs no commands", timedOut: false, truncated: false };
}

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { parseRepoConfig, repoConfigPath } from "../config/repo-config.js";
import type { Job, JobOutcome, RepoConfig } from "../domain/index.js";
import { deprecationNotice } from "../models/deprecated.js";
import { createModel, endpointFor } from "../models/route.js";
import { createJobHandler } from "../workers/handle.js";
import { loadRoleCards, type RoleCards } from "../workers/role-card.js";
import type { SandboxOutcome } from "../workspace/types.js";
import { Workspace } from "../workspace/workspace.js";
import { snapshotDirectory } from "./snapshot.js";

/** The cards Shopfloor ships (`agents/` at the package root, from src/testing or dist/testing alike). */
const shippedAgentsDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../agents");

/** The repository a trial's jobs name: the snapshot stands in for it. */
export const trialRepo = { owner: "trial", name: "repo", installationId: 0 };

/** What every trial is given: a directory, the cards, and where the models are. */
export interface TrialBase {
  /** The repository: its working tree as it is, `.github/shopfloor.yml` and AGENTS.md included. */
  repo: string;
  /** The role cards, as `SHOPFLOOR_AGENTS_DIR` would name them (all four roles); default: the shipped cards. */
  agentsDir?: string;
  /** Where models are: `server.env` of the scripted server. Never read from `process.env`, so a test cannot reach a vendor by accident. */
  env: Record<string, string | undefined>;
}

/** A trial under way: the repo's config and cards, its snapshot as `origin`, and a runner's job handler on it. */
export interface Trial {
  config: RepoConfig;
  /** What the app would log about shopfloor.yml, e.g. a deprecated model. */
  warnings: string[];
  cards: RoleCards;
  /** A bare repository whose `main` is one commit of the working tree. */
  origin: string;
  handle(job: Job): Promise<JobOutcome>;
}

/**
 * Runs `body` on a snapshot of `base.repo` (the directory itself is never written), with the job
 * handler a runner uses: the same cards, model routes, tools and limits, and commands refused as
 * a job without a sandbox would have them. Throws when shopfloor.yml or a card is invalid,
 * naming the field, as the app would refuse to start the run.
 */
export async function withTrial<T>(base: TrialBase, body: (trial: Trial) => Promise<T>): Promise<T> {
  const { config, warnings } = await readRepoConfig(base.repo);
  const cards = await loadRoleCards(base.agentsDir ?? shippedAgentsDir);
  const tmp = await mkdtemp(join(tmpdir(), "shopfloor-testing-"));
  try {
    const origin = join(tmp, "origin.git");
    await snapshotDirectory(base.repo, origin);
    const handle = createJobHandler({
      workspace: new Workspace({ workDir: join(tmp, "work"), tokenFor: async () => "unused-by-local-remotes", remoteUrlFor: () => origin }),
      cards,
      modelFor: (r) => createModel(r, base.env),
      endpointFor: (r) => endpointFor(r, base.env),
      sandbox: refuseCommands,
      commandTimeoutMs: 1,
      secrets: [],
      author: { name: "shopfloor/testing", email: "testing@shopfloor.invalid" },
      scratchDir: join(tmp, "scratch"),
    });
    return await body({ config, warnings, cards, origin, handle });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
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

/** A trial runs no commands; should a card's job ask, it is refused as in production without a sandbox. */
async function refuseCommands(): Promise<SandboxOutcome> {
  return { exitCode: 126, ms: 0, output: "shopfloor/testing runs no commands", timedOut: false, truncated: false };
}

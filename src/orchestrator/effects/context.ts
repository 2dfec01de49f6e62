import type { Event, RepoConfig, Run } from "../../domain/index.js";
import type { InstallationOctokit } from "../../github/octokit.js";
import type { JobQueue } from "../../queue/job-queue.js";

export type RepoConfigOutcome = { ok: true; config: RepoConfig } | { ok: false; errors: string[] };

/** What effects need from the outside world; wired in `index.ts`. */
export interface EffectContext {
  octokitFor(installationId: number): Promise<InstallationOctokit>;
  queue: JobQueue;
  /** Reads and validates `.github/shopfloor.yml` from the default branch. */
  loadRepoConfig(octokit: InstallationOctokit, owner: string, repo: string): Promise<RepoConfigOutcome>;
  /** Our own App id, so our check suites are not mistaken for the repo's CI, nor a copy of a marker for our comment. */
  appId?: number;
  /** Removes known secrets from text on its way to GitHub (keys, tokens the process holds). */
  redact?(text: string): string;
  /** The last entries of the run's journal, one line each, for a person reading a handoff. */
  traceExcerpt(runId: string): Promise<string>;
}

/** An answer to an effect, before the shell stamps it with the run id, the time and the key. */
export type Answer = Event extends infer E ? (E extends Event ? Omit<E, "runId" | "at" | "key"> : never) : never;

export const coordinates = (run: Run) => ({ owner: run.repo.owner, repo: run.repo.name });

import type { Settings } from "../config/settings.js";
import { loadSecrets } from "../config/secrets.js";
import { loadRepoConfig } from "../config/repo-config.js";
import { redact, type JobProgress, type Run } from "../domain/index.js";
import { deprecationNotice } from "../models/deprecated.js";
import { Engine } from "../orchestrator/engine.js";
import type { RepoConfigOutcome } from "../orchestrator/effects/index.js";
import { Monitor } from "../orchestrator/monitor.js";
import { machineSettingsFrom } from "../orchestrator/step.js";
import { LocalJobQueue } from "../queue/local.js";
import { createRunner } from "../runner.js";
import { formatTrace } from "../store/format-trace.js";
import { runGit } from "../workspace/git.js";
import type { LocalWrite } from "./github-model.js";
import { GitHubStandIn } from "./github-stand-in.js";
import { FileLog } from "./file-log.js";
import { localDirs, type LocalRepository } from "./repository.js";
import { WatchedRunStore } from "./watched-store.js";

export interface LocalFactory {
  engine: Engine;
  store: WatchedRunStore;
  queue: LocalJobQueue;
  github: GitHubStandIn;
  log: FileLog;
  /** The repository's config as the run will read it (the base branch's `.github/shopfloor.yml`). */
  config(): Promise<RepoConfigOutcome>;
  /** Stop taking work and stop every job of the run; what is decided stays in the notes for `--resume`. */
  stop(jobIds: string[], reason: string): Promise<void>;
}

/**
 * The same engine, store, queue and runner as `serve` (index.ts), on a local repository: the file
 * store and the workspace under the repository's `.git/shopfloor`, the repository itself as the
 * origin, and the GitHub stand-in behind every effect.
 */
export async function startFactory(opts: {
  repo: LocalRepository;
  runId: string;
  issue: number;
  settings: Settings;
  env: NodeJS.ProcessEnv;
  onRun(run: Run): void;
  onProgress(progress: JobProgress): void;
  onWrite(write: LocalWrite): void;
}): Promise<LocalFactory> {
  const { repo, settings } = opts;
  const dirs = localDirs(repo.gitDir);
  const secrets = loadSecrets(opts.env);
  const clean = (text: string) => redact(text, secrets);
  const log = new FileLog(dirs.log, clean);

  const store = new WatchedRunStore(settings.stateDir, opts.runId, opts.onRun);
  const github = await GitHubStandIn.open({
    statePath: dirs.github,
    repo: repo.ref,
    issue: opts.issue,
    readFile: (branch, path) => runGit(["show", `refs/heads/${branch}:${path}`], { cwd: repo.dir }).then((r) => r.stdout, () => undefined),
    onWrite: opts.onWrite,
  });
  const handler = await createRunner({
    settings,
    appOctokit: async () => github.octokit,
    // The run's origin is the local repository itself: mirrors, worktrees and the run branch's push go there.
    remoteUrlFor: () => repo.dir,
    onProgress: (runId, progress) => {
      void store.recordProgress(runId, progress).catch((err: unknown) => log.warn({ err, runId }, "progress not recorded"));
      if (runId === opts.runId) opts.onProgress(progress);
    },
  });
  const queue = new LocalJobQueue(handler, { concurrency: settings.runnerConcurrency, maxQueued: settings.runnerMaxQueued });
  const config = async (): Promise<RepoConfigOutcome> => {
    const outcome = await loadRepoConfig(github.octokit, repo.ref.owner, repo.ref.name, { deprecationNotice });
    if (!outcome.ok) return outcome;
    for (const warning of outcome.warnings) log.warn({ repo: repo.dir }, warning);
    // No other app runs CI on a local repository: waiting for one to appear would only delay the gate.
    return { ok: true, config: { ...outcome.config, ci: { ...outcome.config.ci, graceMinutes: 0 } } };
  };
  const engine = new Engine({
    store,
    settings: machineSettingsFrom(settings),
    log,
    effects: {
      octokitFor: async () => github.octokit,
      queue,
      loadRepoConfig: () => config(),
      redact: clean,
      traceExcerpt: async (runId) => formatTrace((await store.journal(runId)).slice(-15)),
    },
  });
  // Stalls and expired waits are noticed as under `serve`; there is nothing to reconcile or prune.
  const monitor = new Monitor({
    store,
    queue,
    log,
    submit: (event) => engine.submit(event),
    reviveOrphans: () => engine.reviveOrphans(),
  });
  monitor.start(settings.monitorIntervalMs);

  return {
    engine,
    store,
    queue,
    github,
    log,
    config,
    async stop(jobIds, reason) {
      monitor.stop();
      engine.stop();
      for (const jobId of jobIds) queue.cancel(jobId, reason);
      // What is being written finishes; a job that ignores its stop is not waited for long.
      await Promise.race([Promise.all([engine.idle(), queue.close()]), new Promise((r) => setTimeout(r, 5_000).unref())]);
      await log.close();
    },
  };
}

import { join } from "node:path";
import type { Settings } from "./config/settings.js";
import { loadSecrets } from "./config/secrets.js";
import type { JobProgress } from "./domain/index.js";
import { RepoTokenMinter } from "./github/tokens.js";
import type { InstallationOctokit } from "./github/octokit.js";
import { createModel, endpointFor } from "./models/route.js";
import type { JobHandler } from "./queue/job-queue.js";
import { createJobHandler } from "./workers/handle.js";
import { loadRoleCards } from "./workers/role-card.js";
import { runSandboxed } from "./workspace/sandbox.js";
import { Workspace } from "./workspace/workspace.js";
import { DependencyCache } from "./workspace/dep-cache.js";
import { prepareEnvironment } from "./workspace/setup.js";
import type { SandboxRequest } from "./workspace/types.js";

/** The identity Shopfloor commits as; pushes by anyone else pause a run. */
export const commitAuthor = { name: "shopfloor[bot]", email: "shopfloor@users.noreply.github.com" };

/**
 * A runner's job handler, the same in the embedded pool and on a runner node: role cards,
 * mirrors and worktrees, the sandbox, model routes, and repo-scoped tokens minted with the App's key.
 */
export async function createRunner(opts: {
  settings: Settings;
  appOctokit: () => Promise<InstallationOctokit>;
  onProgress: (runId: string, progress: JobProgress) => void;
  /** Where a repository is fetched from and pushed to; GitHub's URL unless told (`shopfloor run`: the local repository). */
  remoteUrlFor?: (repo: { owner: string; name: string }) => string;
}): Promise<JobHandler> {
  const { settings } = opts;
  const cards = await loadRoleCards(settings.agentsDir);
  const tokens = new RepoTokenMinter(opts.appOctokit);
  const workspace = new Workspace({ workDir: settings.workDir, tokenFor: (repo) => tokens.tokenFor(repo), ...(opts.remoteUrlFor && { remoteUrlFor: opts.remoteUrlFor }) });
  const sandbox = (request: SandboxRequest) => runSandboxed(request, { toolchains: settings.sandboxPaths });
  const cache = new DependencyCache({ dir: settings.cacheDir, maxBytes: settings.cacheMaxBytes });
  const handler = createJobHandler({
    workspace,
    cards,
    modelFor: (route) => createModel(route),
    endpointFor: (route) => endpointFor(route),
    scratchDir: join(settings.workDir, "jobs"),
    sandbox,
    toolchains: settings.sandboxPaths,
    prepareEnvironment: (job, spec) =>
      prepareEnvironment(
        { workspace, cache, sandbox, egressAllow: settings.egressAllow, setupEnv: settings.setupEnv, commandTimeoutMs: settings.commandTimeoutMs, maxOutputBytes: 1024 * 1024 },
        job,
        spec,
      ),
    commandTimeoutMs: settings.commandTimeoutMs,
    secrets: loadSecrets(process.env),
    author: commitAuthor,
    onProgress: opts.onProgress,
  });
  return (job, signal) => handler(job, signal);
}

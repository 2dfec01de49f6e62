import type { ApplicationFunctionOptions, Probot } from "probot";
import { readSettings, type Settings } from "./config/settings.js";
import { loadRepoConfig, repoConfigPath } from "./config/repo-config.js";
import { defaultRepoConfig, redact, type Event, type JobProgress, type Run } from "./domain/index.js";
import { loadSecrets } from "./config/secrets.js";
import type { RunStore } from "./store/run-store.js";
import type { JobQueue } from "./queue/job-queue.js";
import { RedisRunStore } from "./store/redis.js";
import { BullJobQueue, startRunner } from "./queue/bullmq.js";
import { createRunner } from "./runner.js";
import { FileRunStore } from "./store/file.js";
import { LocalJobQueue } from "./queue/local.js";
import { Engine } from "./orchestrator/engine.js";
import { Monitor } from "./orchestrator/monitor.js";
import { reconcile } from "./orchestrator/reconcile.js";
import { machineSettingsFrom } from "./orchestrator/step.js";
import { intakeLabeled } from "./intake/labeled.js";
import { intakePush } from "./intake/push.js";
import { intakeCheckSuite } from "./intake/check-suite.js";
import { intakeBranchPush, intakePullRequestClosed, intakeUnlabeled, runIssueOfBranch } from "./intake/lifecycle.js";
import { Workspace } from "./workspace/workspace.js";
import { cleanRunWorktrees } from "./workspace/clean-run.js";
import { intakeComment } from "./intake/comment.js";
import { intakeButton } from "./intake/button.js";
import { intakeForeignPullRequest } from "./intake/foreign-pr.js";
import { onWellFormed, storing } from "./intake/payload.js";
import { intakeStatus } from "./intake/status.js";
import { deprecationNotice } from "./models/deprecated.js";
import type { InstallationOctokit } from "./github/octokit.js";
import { healthHandler } from "./dashboard/health.js";
import { Meter, metricsHandler } from "./dashboard/metrics.js";
import { mountMissionControl } from "./dashboard/mount.js";
import { watchWebhookLatency } from "./dashboard/webhook-latency.js";
import { meteredQueue, jobRole, jobVerdict, outcomeUsage } from "./queue/metered.js";
import { meterRequests, requestMeterPlugin, type GitHubRequest } from "./github/request-meter.js";
import { intakeMissionControl } from "./intake/mission-control.js";
import { FileTriggerLabelBook, TriggerLabels, type TriggerLabelBook } from "./store/trigger-labels.js";
import { Leadership, LocalLeases, type Leases } from "./store/leases.js";
import { formatTrace } from "./store/format-trace.js";

export interface Shopfloor {
  engine: Engine;
  monitor: Monitor;
  settings: Settings;
  store: RunStore;
  /** Ends Mission Control's live streams, so the server can close. */
  closeLive(): void;
}

/** Where state lives: the runs, the queue, the claims replicas share, and the trigger labels. */
interface Backends {
  store: RunStore;
  queue: JobQueue;
  leases: Leases;
  triggerLabelBook: TriggerLabelBook;
}

/**
 * Embedded by default: file store and an in-process runner pool. With REDIS_URL: the Redis
 * store (AOF on, no eviction, checked at start) and BullMQ, with runner nodes started by
 * `shopfloor runner`; this process runs jobs too unless SHOPFLOOR_EMBEDDED_RUNNER=0. Claims and
 * trigger labels then live in Redis too, so every replica sees the same.
 */
async function backends(settings: Settings, app: Probot): Promise<Backends> {
  const appOctokit = () => app.auth() as Promise<InstallationOctokit>;
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const store = new FileRunStore(settings.stateDir);
    const handler = await createRunner({ settings, appOctokit, onProgress: progressTo(store, app) });
    return {
      store,
      queue: new LocalJobQueue(handler, { concurrency: settings.runnerConcurrency, maxQueued: settings.runnerMaxQueued }),
      leases: new LocalLeases(),
      triggerLabelBook: new FileTriggerLabelBook(settings.stateDir),
    };
  }
  const store = await RedisRunStore.connect(redisUrl);
  const queue = new BullJobQueue({ connection: { url: redisUrl } });
  if (process.env.SHOPFLOOR_EMBEDDED_RUNNER !== "0") {
    const handler = await createRunner({ settings, appOctokit, onProgress: progressTo(store, app) });
    startRunner({ connection: { url: redisUrl }, handler, concurrency: settings.runnerConcurrency });
  }
  app.log.info("distributed mode: Redis store and BullMQ queue");
  return { store, queue, leases: store.leases(), triggerLabelBook: store.triggerLabelBook() };
}

function progressTo(store: RunStore, app: Probot) {
  return (runId: string, progress: JobProgress) =>
    void store.recordProgress(runId, progress).catch((err: unknown) => app.log.warn({ err, runId }, "progress not recorded"));
}

/** One per process: Prometheus counters live as long as the process, whichever app instance counts. */
export const meter = new Meter();
const countRequest = (r: GitHubRequest) => meter.countGitHubRequest(r.method, r.status, r.rateLimitRemaining, r.rateLimitResource);
/** For the Octokit class Probot builds every client from (`shopfloor serve`): every GitHub request is counted. */
export const meteredOctokit = requestMeterPlugin(countRequest);
// Probot answers the webhook before any handler we add can see the request: timed from outside.
watchWebhookLatency(process.env.WEBHOOK_PATH || "/api/github/webhooks", (seconds, status) => meter.observeWebhookAck(seconds, status));

/**
 * The Probot entry: which event goes where. Handlers only verify, dedupe and persist;
 * the engine does the rest in the background.
 */
export function createShopfloor(onReady?: (shopfloor: Shopfloor) => void) {
  return async function shopfloor(app: Probot, options: ApplicationFunctionOptions): Promise<void> {
    const settings = readSettings(process.env, process.cwd(), packageRoot());
    const secrets = loadSecrets(process.env);
    const backend = await backends(settings, app);
    const { store, leases, triggerLabelBook } = backend;
    const queue = meteredQueue(backend.queue, ({ job, outcome, ms }) => {
      meter.observeJob(jobRole(job), ms / 1000, jobVerdict(outcome));
      for (const u of outcomeUsage(outcome)) meter.countModelUsage(`${u.provider}/${u.model}`, u.costUsd, u.inputTokens, u.outputTokens);
    });
    const triggerLabels = new TriggerLabels(triggerLabelBook, defaultRepoConfig.trigger.label);
    await triggerLabels.load();
    // Another replica may have read a repo's config since: labels are read again before they decide.
    const freshLabels = storing(() => triggerLabels.load());
    // Intake reaches storage only through these: a failure is answered 503, never acknowledged.
    const persist = storing((deliveryId: string, event: Event) => store.putDelivery({ deliveryId, event }));
    const loadRun = storing((runId: string) => store.load(runId));
    const received = storing((deliveryId: string) => store.wasDelivered(deliveryId));
    const runForPr = storing((owner: string, repo: string, prNumber: number) => store.runForPr(owner, repo, prNumber));
    const octokitFor = async (installationId: number) => {
      const octokit = (await app.auth(installationId)) as InstallationOctokit;
      meterRequests(octokit, countRequest);
      return octokit;
    };
    const engine = new Engine({
      store,
      settings: machineSettingsFrom(settings),
      log: app.log.child({ name: "engine" }),
      leases,
      effects: {
        octokitFor,
        queue,
        loadRepoConfig: async (octokit, owner, repo) => {
          const outcome = await loadRepoConfig(octokit, owner, repo, { deprecationNotice });
          if (outcome.ok) {
            for (const warning of outcome.warnings) app.log.warn({ repo: `${owner}/${repo}` }, `${repoConfigPath}: ${warning}`);
            await triggerLabels.remember(owner, repo, outcome.config.trigger.label);
          }
          return outcome;
        },
        appId: Number(process.env.APP_ID) || undefined,
        redact: (text) => redact(text, secrets),
        traceExcerpt: async (runId) => formatTrace((await store.journal(runId)).slice(-15)),
      },
    });
    const wake = () => void engine.drainInbox().catch((err: unknown) => app.log.error({ err }, "inbox drain failed"));
    // Every handler sees only deliveries of the shape it reads; a malformed one is logged and acknowledged.
    const on = onWellFormed(app);

    // GitHub waits for the answer: a redelivered label (the same id) is known from the store alone,
    // before its payload is checked, the labels are read again or the labeller's permission is asked.
    on(
      "issues.labeled",
      async (context) => {
        await freshLabels();
        await intakeLabeled(context, { triggerLabel: (owner, repo) => triggerLabels.labelFor(owner, repo), persist, wake });
      },
      { received },
    );
    on("check_suite.completed", (context) => intakeCheckSuite(context, { ownAppId: Number(process.env.APP_ID) || undefined, persist, wake }));
    const lifecycle = {
      persist,
      wake,
      triggerLabel: (owner: string, repo: string) => triggerLabels.labelFor(owner, repo),
    };
    on("issue_comment.created", (context) =>
      intakeComment(context, {
        persist,
        wake,
        isRunIssue: async (owner, repo, number, kind) => {
          if (kind === "issue") return (await loadRun(`${owner}/${repo}#${number}`)) ? { runIssue: number } : undefined;
          const runId = await runForPr(owner, repo, number);
          return runId === undefined ? undefined : { runIssue: Number(runId.slice(runId.lastIndexOf("#") + 1)) };
        },
      }),
    );
    on("status", (context) => intakeStatus(context, { persist, wake }));
    on("check_run.requested_action", (context) => intakeButton(context, { persist, wake, appId: Number(process.env.APP_ID) || undefined }));
    on("pull_request.closed", (context) => intakePullRequestClosed(context, lifecycle));
    on(["pull_request.opened", "pull_request.synchronize", "pull_request.reopened"], (context) =>
      intakeForeignPullRequest(context, {
        isRunPullRequest: async (owner, repo, pr) => {
          if (await runForPr(owner, repo, pr.number)) return true;
          // Before the run records its PR, the PR's branch is how the opened event finds it: the
          // issue is in the branch name, and only an active run can be opening a PR.
          const issue = runIssueOfBranch(pr.headRef);
          if (issue === undefined) return false;
          const run = await loadRun(`${owner}/${repo}#${issue}`);
          return run !== undefined && run.pr === undefined && run.branch === pr.headRef;
        },
      }),
    );
    on("issues.unlabeled", async (context) => {
      await freshLabels();
      await intakeUnlabeled(context, lifecycle);
    });
    on("push", async (context) => {
      await intakeBranchPush(context, lifecycle);
      await intakePush(context, repoConfigPath, async (owner, repo) => {
        const outcome = await loadRepoConfig(context.octokit as InstallationOctokit, owner, repo);
        await storing(() => triggerLabels.remember(owner, repo, outcome.ok ? outcome.config.trigger.label : defaultRepoConfig.trigger.label))();
      });
    });
    options.addHandler(healthHandler(store));
    const missionControl = mountMissionControl({
      env: process.env,
      store,
      queueHealth: () => queue.health(),
      redact: (text) => redact(text, secrets),
      liveIntervalMs: settings.liveIntervalMs,
      log: app.log.child({ name: "mission-control" }),
      // The same path as a comment command: live permission check, the inbox, the journal, a reply.
      act: async (action) => intakeMissionControl(await octokitFor(action.installationId), action, { persist, wake }),
    });
    options.addHandler(missionControl.handler);
    options.addHandler(
      metricsHandler({
        health: () => queue.health(),
        token: process.env.SHOPFLOOR_METRICS_TOKEN || undefined,
        meter,
        runsByPhase: async () => countBy((await missionControl.summaries()).map((s) => s.phase)),
      }),
    );

    let sweeps = 0;
    // One replica at a time sweeps and reconciles; alone (embedded), this one always leads.
    const leadership = new Leadership(leases);
    // Pruning only removes worktrees under the work dir: it never fetches or pushes, so it needs no token.
    const cleanup = new Workspace({ workDir: settings.workDir, tokenFor: () => Promise.reject(new Error("worktree cleanup needs no token")) });
    const runsJobsHere = !process.env.REDIS_URL || process.env.SHOPFLOOR_EMBEDDED_RUNNER !== "0";
    const monitor = new Monitor({
      retentionDays: settings.retentionDays,
      // Worktrees live where jobs run: a node that runs none has none to prune.
      ...(runsJobsHere && {
        cleanWorkspace: (run: Run) =>
          cleanRunWorktrees(cleanup, { repo: run.repo, issueNumber: run.issue.number, pushed: [run.baseSha, run.headSha, ...run.pushedShas].filter((s): s is string => s !== undefined) }),
      }),
      store,
      queue,
      log: app.log.child({ name: "monitor" }),
      reviveOrphans: () => engine.reviveOrphans(),
      leads: () => leadership.leads(),
      submit: async (event) => {
        // Reconciled requests go through the inbox like deliveries: deduped by their derived id.
        if (event.type === "run.requested") {
          if (await store.putDelivery({ deliveryId: event.deliveryId, event })) wake();
          return;
        }
        await engine.submit(event);
      },
      reconcile: async () => {
        const due = settings.reconcileEvery > 0 && sweeps % settings.reconcileEvery === 0;
        sweeps++;
        if (!due) return [];
        const reconciled = async () => {
          await triggerLabels.load();
          return reconcile({
            store,
            appOctokit: () => app.auth() as Promise<InstallationOctokit>,
            octokitFor,
            triggerLabel: (owner, repo) => triggerLabels.labelFor(owner, repo),
          });
        };
        return reconciled().catch((err: unknown) => {
          app.log.warn({ err }, "reconciliation with GitHub failed; next sweep tries again");
          return [];
        });
      },
    });

    const resumed = await engine.resume();
    app.log.info({ resumed, stateDir: settings.stateDir }, "Shopfloor ready");
    wake();
    // A delivery stored by a replica that died before taking it is taken by a drain elsewhere:
    // every replica looks at the inbox once per monitor interval, not only when a webhook arrives.
    setInterval(wake, settings.monitorIntervalMs).unref();
    monitor.start(settings.monitorIntervalMs);
    void monitor.sweep().catch((err: unknown) => app.log.warn({ err }, "first monitor sweep failed"));
    onReady?.({ engine, settings, store, monitor, closeLive: () => missionControl.close() });
  };
}

export default createShopfloor();

function countBy(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

function packageRoot(): string {
  return new URL("..", import.meta.url).pathname;
}

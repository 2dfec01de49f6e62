import { terminalPhases, type Event, type JobProgress, type Run } from "../domain/index.js";
import type { RunStore } from "../store/run-store.js";
import type { JobQueue } from "../queue/job-queue.js";
import { PRUNE_EVERY_MS, pruneRuns, type CleanWorkspace } from "./prune.js";

export interface Stall {
  key: string;
  jobId: string;
  idleMs: number;
}

/**
 * Running jobs with no progress for longer than the run's stall limit. Pure: the queue says when
 * each job started, the store what it last reported. Scrutiny runs the repo's own commands,
 * which report no turns; their own time limit stops them.
 */
export function findStalls(run: Run, progress: Record<string, JobProgress>, startedAt: (jobId: string) => number | undefined, now: number): Stall[] {
  if (terminalPhases.includes(run.phase) || !run.config) return [];
  const limitMs = run.config.limits.stallMinutes * 60_000;
  const stalls: Stall[] = [];
  for (const effect of run.pending) {
    if (effect.kind !== "dispatchJob" || effect.job.kind === "scrutiny") continue;
    const started = startedAt(effect.job.jobId);
    if (started === undefined) continue;
    const last = Math.max(started, Date.parse(progress[effect.job.jobId]?.at ?? "") || 0);
    const idleMs = now - last;
    if (idleMs > limitMs) stalls.push({ key: effect.key, jobId: effect.job.jobId, idleMs });
  }
  return stalls;
}

/** Runs waiting on CI or on a person for longer than their limits. Pure. */
export function findExpiredWaits(run: Run, now: number): Extract<Event, { type: "wait.expired" }>[] {
  if (!run.config) return [];
  const waitedMs = now - Date.parse(run.updatedAt);
  const at = new Date(now).toISOString();
  if (run.phase === "awaiting_ci" && waitedMs > run.config.limits.ciWaitMinutes * 60_000) {
    return [{ type: "wait.expired", runId: run.id, at, waitingFor: "ci", waitedMs }];
  }
  if (run.phase === "awaiting_approval" && waitedMs > run.config.limits.approvalWaitHours * 3_600_000) {
    return [{ type: "wait.expired", runId: run.id, at, waitingFor: "approval", waitedMs }];
  }
  return [];
}

export interface MonitorDeps {
  store: RunStore;
  queue: JobQueue;
  submit(event: Event): Promise<void>;
  /** Relaunch pending effects that no task performs (see `Engine.reviveOrphans`). */
  reviveOrphans?: () => Promise<number>;
  /** What GitHub says, compared with the runs (labelled issues without a run, closed PRs). */
  reconcile?: () => Promise<Event[]>;
  /** Finished runs untouched this long are pruned (see prune.ts); 0 or absent keeps them all. */
  retentionDays?: number;
  /** Removes a pruned run's worktrees, keeping any with unpushed commits. */
  cleanWorkspace?: CleanWorkspace;
  now?: () => number;
  /**
   * With several replicas, whether this one leads: only the leader sweeps, reconciles, revives
   * and prunes, so two replicas never feed the same stall or reconciled request. Absent: always.
   */
  leads?: () => Promise<boolean>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * The deterministic sweep: reads notes, progress and the queue, and feeds events to the engine.
 * It makes no model call and decides nothing itself: the machine decides what a stall means.
 * One replica at a time sweeps (`leads`).
 */
export class Monitor {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private pruning: Promise<number> | undefined;
  private lastPruneAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: MonitorDeps) {}

  /** One pass; returns how many events it fed. Overlapping calls share the pass in progress. */
  sweep(): Promise<number> {
    this.sweeping ??= this.pass().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.deps.log.warn({ err }, "monitor sweep failed"));
    }, intervalMs);
    this.timer.unref();
  }

  /**
   * Prune finished runs past retention; a call while a pass runs shares it. The sweep starts
   * one at most hourly and does not wait for it: a backlog (the first pass after an upgrade)
   * never delays stall detection.
   */
  prune(): Promise<number> {
    const { store, log } = this.deps;
    this.pruning ??= pruneRuns({
      store,
      log,
      retentionDays: this.deps.retentionDays ?? 0,
      ...(this.deps.cleanWorkspace && { cleanWorkspace: this.deps.cleanWorkspace }),
      now: this.deps.now?.() ?? Date.now(),
    }).finally(() => (this.pruning = undefined));
    return this.pruning;
  }

  /** Resolves when no sweep or prune is running (for tests and graceful shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([this.sweeping, this.pruning]);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async pass(): Promise<number> {
    if (this.deps.leads && !(await this.deps.leads())) return 0;
    const now = this.deps.now?.() ?? Date.now();
    const events: Event[] = [];
    let fed = 0;
    // Only runs with work left: finished ones can neither stall nor wait, however many there are.
    for (const runId of await this.deps.store.listActiveRuns()) {
      const run = await this.deps.store.load(runId);
      if (!run) continue;
      const progress = await this.deps.store.progress(runId);
      for (const stall of findStalls(run, progress, (id) => this.deps.queue.startedAt(id), now)) {
        // The stall is recorded first, so the stopped job's own answer arrives as a repeat and
        // is ignored, instead of racing in as an ordinary failure.
        await this.deps.submit({ type: "job.stalled", runId, at: new Date(now).toISOString(), key: stall.key, jobId: stall.jobId, idleMs: stall.idleMs });
        this.deps.queue.cancel(stall.jobId, `no progress for ${Math.round(stall.idleMs / 1000)} s`);
        this.deps.log.warn({ runId, jobId: stall.jobId, idleMs: stall.idleMs }, "job stalled; stopped it");
        fed++;
      }
      events.push(...findExpiredWaits(run, now));
    }
    if (this.deps.reconcile) events.push(...(await this.deps.reconcile()));
    await this.deps.reviveOrphans?.();
    for (const event of events) await this.deps.submit(event);
    if ((this.deps.retentionDays ?? 0) > 0 && now - this.lastPruneAt >= PRUNE_EVERY_MS) {
      this.lastPruneAt = now;
      this.prune().catch((err: unknown) => this.deps.log.warn({ err }, "pruning finished runs failed"));
    }
    return fed + events.length;
  }
}

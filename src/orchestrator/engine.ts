import { terminalPhases, type Effect, type Event, type Run } from "../domain/index.js";
import type { InboxEntry, RunStore } from "../store/run-store.js";
import { decide, type MachineSettings } from "./machine.js";
import { executeEffect, type EffectContext } from "./effects/index.js";

/** Tries of one delivery before it is set aside so the ones after it go on. */
export const maxDeliveryFailures = 3;

export interface EngineLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The imperative shell around `decide`: load the notes, journal the event, decide, save,
 * and only then perform the effects. Effect answers come back through `submit`.
 * GitHub effects of one run go one at a time, in order; jobs run side by side.
 */
export class Engine {
  private readonly inFlight = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly githubChains = new Map<string, Promise<void>>();
  private stopped = false;
  private draining: Promise<void> | undefined;
  private drainAgain = false;
  private readonly deliveryFailures = new Map<string, number>();

  constructor(
    private readonly deps: {
      store: RunStore;
      effects: EffectContext;
      settings: MachineSettings;
      log: EngineLog;
      now?: () => Date;
      /** Pause before a failed delivery is tried again (tests shorten it). */
      inboxRetryMs?: number;
    },
  ) {}

  /** Take one event: durable in the journal and the notes before any effect starts. */
  async submit(event: Event): Promise<void> {
    const { store, settings, log } = this.deps;
    const decided = await store.withRunLock(event.runId, async () => {
      const before = await store.load(event.runId);
      const decision = decide(before, event, settings);
      await store.appendJournal(event.runId, {
        at: event.at,
        event,
        effects: decision.effects.map((e) => e.key),
        phase: decision.run?.phase ?? null,
        ...(decision.note !== undefined && { note: decision.note }),
      });
      if (decision.run && decision.run !== before) await store.save(decision.run);
      return decision;
    });
    if (decided.note) log.info({ runId: event.runId, event: event.type }, decided.note);
    if (decided.run && decided.run.phase !== undefined && decided.effects.length > 0) {
      log.info({ runId: event.runId, event: event.type, phase: decided.run.phase, effects: decided.effects.map((e) => e.kind) }, "decided");
    }
    for (const effect of decided.effects) this.launch(event.runId, effect);
  }

  /**
   * After a restart: perform every effect that was decided but never answered. A job that was
   * running when the process died comes back as `transient: worker_lost`, so the retry policy
   * (attempts, backoff, the same failure twice) decides about it like any other failure.
   */
  async resume(): Promise<number> {
    let resumed = 0;
    for (const runId of await this.deps.store.listActiveRuns()) {
      const run = await this.deps.store.load(runId);
      if (!run) continue;
      for (const effect of run.pending) {
        resumed++;
        const waiting = effect.notBefore !== undefined && Date.parse(effect.notBefore) > this.clock().getTime();
        if (effect.kind === "dispatchJob" && !waiting) {
          await this.submit({
            type: "job.failed",
            runId,
            at: this.now(),
            key: effect.key,
            jobId: effect.job.jobId,
            failure: { class: "transient", reason: "worker_lost", detail: "the process running this job stopped before it finished" },
            usage: [],
            jitter: Math.random(),
          });
          continue;
        }
        this.launch(runId, effect);
      }
      if (run.pending.length === 0 && !terminalPhases.includes(run.phase)) {
        this.deps.log.warn({ runId, phase: run.phase }, "run has nothing pending but is not finished");
      }
    }
    return resumed;
  }

  /**
   * Launch pending effects that nothing is performing: an answer whose submit failed (a lock
   * timeout, a full disk) leaves its effect pending with no task behind it. The monitor calls this.
   */
  async reviveOrphans(): Promise<number> {
    let revived = 0;
    for (const runId of await this.deps.store.listActiveRuns()) {
      const run = await this.deps.store.load(runId);
      for (const effect of run?.pending ?? []) {
        if (this.inFlight.has(effect.key)) continue;
        this.deps.log.warn({ runId, key: effect.key }, "pending effect had no task; launching it again");
        this.launch(runId, effect);
        revived++;
      }
    }
    return revived;
  }

  /** An answer is computed once; a failing submit is tried again before giving up to `reviveOrphans`. */
  private async submitWithRetry(event: Event): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.submit(event);
      } catch (error) {
        if (attempt >= 5 || this.stopped) throw error;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  /**
   * Turn persisted deliveries into events, in arrival order; each is taken once, even across
   * restarts. One drain runs at a time (a wake during it asks for one more pass), so no delivery
   * is submitted twice. A delivery that throws does not hold up the ones after it: it is tried
   * again after a pause, and after `maxDeliveryFailures` it is set aside, kept for an operator.
   */
  drainInbox(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      let failed = false;
      do {
        this.drainAgain = false;
        failed = false;
        for (const entry of await this.deps.store.pendingDeliveries()) {
          if (this.stopped) return;
          if (!(await this.take(entry))) failed = true;
        }
      } while (this.drainAgain && !this.stopped);
      if (failed && !this.stopped) {
        // Tried again after a pause rather than at once: the cause (a lock, a disk) may pass.
        setTimeout(() => void this.drainInbox().catch(() => undefined), this.deps.inboxRetryMs ?? 2_000).unref();
      }
    })().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async take(entry: InboxEntry): Promise<boolean> {
    const { store, log } = this.deps;
    try {
      await this.submit({ ...entry.event, delivery: entry.deliveryId });
      await store.markDeliveryTaken(entry.deliveryId);
      this.deliveryFailures.delete(entry.deliveryId);
      return true;
    } catch (error) {
      const failures = (this.deliveryFailures.get(entry.deliveryId) ?? 0) + 1;
      this.deliveryFailures.set(entry.deliveryId, failures);
      const message = error instanceof Error ? error.message : String(error);
      log.error({ deliveryId: entry.deliveryId, runId: entry.event.runId, event: entry.event.type, failures, err: error }, "delivery failed");
      if (failures < maxDeliveryFailures) return false;
      await store.setDeliveryAside(entry.deliveryId, message);
      this.deliveryFailures.delete(entry.deliveryId);
      log.error({ deliveryId: entry.deliveryId, runId: entry.event.runId, event: entry.event.type, error: message }, "delivery set aside after repeated failures");
      await this.answerSetAside(entry).catch((err: unknown) => log.warn({ deliveryId: entry.deliveryId, err }, "could not tell the sender"));
      return true;
    }
  }

  /** A person who steered or labelled is told their request was not acted on, where they made it. */
  private async answerSetAside(entry: InboxEntry): Promise<void> {
    const event = entry.event;
    const person = "by" in event ? event.by : event.type === "run.requested" ? event.sender : undefined;
    if (!person) return;
    const run = await this.deps.store.load(event.runId).catch(() => undefined);
    const installationId = event.type === "run.requested" ? event.repo.installationId : run?.repo.installationId;
    const m = /^([^/]+)\/([^#]+)#(\d+)$/.exec(event.runId);
    if (installationId === undefined || !m) return;
    const issueNumber = ("issueNumber" in event && event.issueNumber) || Number(m[3]);
    const what = event.type === "command.received" ? `\`/${event.command}\`` : event.type === "run.requested" ? "the label" : "your change";
    const body =
      `@${person} Shopfloor could not act on ${what}: handling it failed ${maxDeliveryFailures} times, so it was set aside ` +
      `(delivery \`${entry.deliveryId}\`) and the operator has the error in the log. Nothing else is held up; try again later.`;
    const octokit = await this.deps.effects.octokitFor(installationId);
    await octokit.rest.issues.createComment({ owner: m[1]!, repo: m[2]!, issue_number: issueNumber, body: this.deps.effects.redact?.(body) ?? body });
  }

  /** Resolves when no effect is running (for tests and graceful shutdown). */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  stop(): void {
    this.stopped = true;
  }

  private launch(runId: string, effect: Effect): void {
    if (this.stopped || this.inFlight.has(effect.key)) return;
    this.inFlight.add(effect.key);
    const perform = async () => {
      const wait = effect.notBefore === undefined ? 0 : Date.parse(effect.notBefore) - this.clock().getTime();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.stopped) return;
      const run = await this.deps.store.load(runId);
      if (!run || !run.pending.some((e) => e.key === effect.key)) return;
      const answer = superseded(run, effect)
        ? { type: "comment.upserted" as const }
        : await executeEffect(run, effect, this.deps.effects);
      if (answer.type === "effect.failed") {
        this.deps.log.warn({ runId, effect: effect.kind, key: effect.key, failure: answer.failure }, "effect failed");
      }
      if (this.stopped) return;
      await this.submitWithRetry({ ...answer, runId, at: this.now(), key: effect.key } as Event);
    };
    let task: Promise<void>;
    if (effect.kind === "dispatchJob" || effect.kind === "stopJobs" || effect.kind === "readCi") {
      // Jobs run side by side, a stop must not wait behind the run's GitHub writes, and a CI read
      // (which only reads) waits out its grace without holding up the writes decided after it.
      task = perform();
    } else {
      task = (this.githubChains.get(runId) ?? Promise.resolve()).then(perform);
      this.githubChains.set(runId, task.catch(() => undefined));
    }
    const tracked = task
      .catch((error: unknown) => this.deps.log.error({ runId, key: effect.key, err: error }, "effect crashed"))
      .finally(() => {
        this.inFlight.delete(effect.key);
        this.tasks.delete(tracked);
      });
    this.tasks.add(tracked);
  }

  private clock(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private now(): string {
    return this.clock().toISOString();
  }
}

/** A progress update is skipped when a newer one is already waiting: it would be overwritten at once. */
function superseded(run: Run, effect: Effect): boolean {
  if (effect.kind !== "upsertProgressComment" || run.progressCommentId === undefined) return false;
  return run.pending.some((e) => e.kind === "upsertProgressComment" && seqOf(e.key) > seqOf(effect.key));
}

const seqOf = (key: string): number => Number(key.slice(key.lastIndexOf(":") + 1));

import { terminalPhases, type Effect, type Event, type Run } from "../domain/index.js";
import type { RunStore } from "../store/run-store.js";
import { LocalLeases, leaseDefaults, type Leases } from "../store/leases.js";
import { Inbox } from "./inbox.js";
import { decide, type Decision, type MachineSettings } from "./machine.js";
import { executeEffect, type EffectContext } from "./effects/index.js";

/**
 * Times one event is decided again after its save was refused (another holder saved first, or
 * this one's lock ran out). Each try reads fresh notes; more than a few means the lock cannot be
 * kept at all (Redis unreachable, a lease shorter than a save), which is an error to report.
 */
export const maxStaleDecisions = 5;

const effectLease = (key: string) => `effect:${key}`;

export { maxDeliveryFailures } from "./inbox.js";

export interface EngineLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The imperative shell around `decide`: load the notes, journal the event, decide, save,
 * and only then perform the effects. Effect answers come back through `submit`.
 * GitHub effects of one run go one at a time, in order; jobs run side by side.
 * With several replicas, an effect and a delivery are each claimed (a lease) before they are
 * acted on, so one replica at a time does; saves are fenced by the run lock (see `submit`).
 */
export class Engine {
  private readonly inFlight = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly githubChains = new Map<string, Promise<void>>();
  /** Effects waiting for their `notBefore`, by key: how to wake each early. */
  private readonly waiting = new Map<string, () => void>();
  private stopped = false;
  private readonly leases: Leases;
  private readonly inbox: Inbox;

  constructor(
    private readonly deps: {
      store: RunStore;
      effects: EffectContext;
      settings: MachineSettings;
      log: EngineLog;
      now?: () => Date;
      /** Pause before a failed delivery is tried again (tests shorten it). */
      inboxRetryMs?: number;
      /** Claims shared with the other replicas; one process alone (the default) needs no more than a set. */
      leases?: Leases;
    },
  ) {
    this.leases = deps.leases ?? new LocalLeases();
    this.inbox = new Inbox({
      ...deps,
      leases: this.leases,
      submit: (event) => this.submit(event),
      stopped: () => this.stopped,
    });
  }

  /**
   * Take one event: durable in the journal and the notes before any effect starts. A save is
   * refused when this holder's lock ran out meanwhile (a GC pause, a slow disk) and another
   * holder saved newer notes: then the event is decided again from those, a bounded number of times.
   */
  async submit(event: Event): Promise<void> {
    const { log } = this.deps;
    let decided: Decision | "stale" = "stale";
    for (let attempt = 1; decided === "stale"; attempt++) {
      decided = await this.decideAndSave(event);
      if (decided !== "stale") break;
      log.warn({ runId: event.runId, event: event.type, attempt }, "run lock lost before the save; deciding again from the fresh notes");
      if (attempt >= maxStaleDecisions) throw new Error(`run ${event.runId}: lock lost ${attempt} times while deciding ${event.type}`);
    }
    if (decided.note) log.info({ runId: event.runId, event: event.type }, decided.note);
    if (decided.run && decided.run.phase !== undefined && decided.effects.length > 0) {
      log.info({ runId: event.runId, event: event.type, phase: decided.run.phase, effects: decided.effects.map((e) => e.kind) }, "decided");
    }
    if (decided.run) this.wakeDropped(decided.run);
    for (const effect of decided.effects) this.launch(event.runId, effect);
  }

  /**
   * One decision under the run lock, written only while the lock is still ours: the journal
   * entry and the save each present the holding's token (the save also the version read), so a
   * holder that lost its lock writes nothing more. The one gap, a lock lost between the two
   * writes, leaves a journal entry whose notes were not saved, followed by the same event decided again.
   */
  private decideAndSave(event: Event): Promise<Decision | "stale"> {
    const { store, settings } = this.deps;
    return store.withRunLock(event.runId, async (hold) => {
      const { run: before, version } = await store.loadVersioned(event.runId);
      const decision = decide(before, event, settings);
      if (hold.lost.aborted) return "stale";
      const entry = {
        at: event.at,
        event,
        effects: decision.effects.map((e) => e.key),
        phase: decision.run?.phase ?? null,
        ...(decision.note !== undefined && { note: decision.note }),
      };
      if ((await store.appendJournal(event.runId, entry, hold.token)) === "stale") return "stale";
      if (decision.run && decision.run !== before) {
        if (hold.lost.aborted) return "stale";
        if ((await store.save(decision.run, { token: hold.token, version })) === "stale") return "stale";
      }
      return decision;
    });
  }

  /**
   * After a restart: perform every effect that was decided but never answered. For a job sent
   * before the restart, the queue is the truth (DESIGN §2): one still waiting or running is
   * waited for (the dispatch re-attaches to it, never sends a second copy), one that finished
   * meanwhile is answered with its kept outcome, and only one the queue no longer has comes back
   * as `transient: worker_lost`, for the retry policy to decide about like any other failure.
   *
   * `lostJobs: "sent again"` is for a restart after a person stopped the process on purpose
   * (`shopfloor run`'s Ctrl-C): nothing else could be running its jobs, and the stop was no
   * failure of the work, so a lost job is sent again as the same attempt instead of answered.
   */
  async resume(opts: { lostJobs?: "answered lost" | "sent again" } = {}): Promise<number> {
    let resumed = 0;
    // Runs are independent (each answer takes its own run's lock): several are resumed at once,
    // so one run's durable writes wait on the disk while the next run's are being decided.
    await eachAtMost(resumeConcurrency, await this.deps.store.listActiveRuns(), async (runId) => {
      const run = await this.deps.store.load(runId);
      if (!run) return;
      for (const effect of run.pending) {
        resumed++;
        const waiting = effect.notBefore !== undefined && Date.parse(effect.notBefore) > this.clock().getTime();
        if (effect.kind !== "dispatchJob" || waiting) {
          this.launch(runId, effect);
          continue;
        }
        const { jobId } = effect.job;
        // Asked under the effect's claim: a replica that holds it is sending or awaiting the job
        // right now, and a job it has not sent yet must not be called lost.
        const lease = await this.leases.claim(effectLease(effect.key), leaseDefaults.effectMs);
        if (!lease) continue;
        let attach = false;
        try {
          // A queue that cannot be asked (Redis away) gets the job as a fresh dispatch: the
          // dispatch's own failure path answers, and re-sending under the same id adds no copy.
          const status = await this.deps.effects.queue.status(jobId).catch(() => ({ state: "running" as const }));
          const answered = { runId, at: this.now(), key: effect.key, jobId };
          if (status.state === "running" || status.state === "waiting" || (status.state === "gone" && opts.lostJobs === "sent again")) {
            attach = true;
          } else if (status.state === "done") {
            const { outcome } = status;
            await this.submit(
              outcome.ok
                ? { ...answered, type: "job.succeeded", output: outcome.output }
                : { ...answered, type: "job.failed", failure: outcome.failure, usage: outcome.usage, jitter: Math.random() },
            );
          } else {
            await this.submit({
              ...answered,
              type: "job.failed",
              failure: { class: "transient", reason: "worker_lost", detail: "the process running this job stopped before it finished" },
              usage: [],
              jitter: Math.random(),
            });
          }
        } finally {
          await lease.release().catch(() => undefined);
        }
        // Launched after the claim is let go: the dispatch claims it again for as long as it waits.
        if (attach) this.launch(runId, effect);
      }
      if (run.pending.length === 0 && !terminalPhases.includes(run.phase)) {
        this.deps.log.warn({ runId, phase: run.phase }, "run has nothing pending but is not finished");
      }
    });
    return resumed;
  }

  /**
   * Launch pending effects that nothing is performing: an answer whose submit failed (a lock
   * timeout, a full disk) leaves its effect pending with no task behind it, and a replica that
   * died leaves its effects claimed until the claims expire. Only unclaimed effects are launched
   * (one a replica is performing right now is not). The monitor's leader calls this.
   */
  async reviveOrphans(): Promise<number> {
    let revived = 0;
    for (const runId of await this.deps.store.listActiveRuns()) {
      const run = await this.deps.store.load(runId);
      for (const effect of run?.pending ?? []) {
        if (this.inFlight.has(effect.key) || (await this.leases.held(effectLease(effect.key)))) continue;
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

  /** Turn persisted deliveries into events (see inbox.ts). */
  drainInbox(): Promise<void> {
    return this.inbox.drain();
  }

  /** Resolves when no effect is running (for tests and graceful shutdown). */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  stop(): void {
    this.stopped = true;
    for (const wake of [...this.waiting.values()]) wake();
  }

  private launch(runId: string, effect: Effect): void {
    if (this.stopped || this.inFlight.has(effect.key)) return;
    this.inFlight.add(effect.key);
    const perform = async () => {
      if (this.stopped) return;
      // Held until the answer is saved: another replica performing it now makes this launch a no-op.
      const lease = await this.leases.claim(effectLease(effect.key), leaseDefaults.effectMs);
      if (!lease) return;
      try {
        await this.performClaimed(runId, effect);
      } finally {
        await lease.release().catch((err: unknown) => this.deps.log.warn({ runId, key: effect.key, err }, "effect claim not released; it expires"));
      }
    };
    const chained = (step: () => Promise<void>) => {
      const next = (this.githubChains.get(runId) ?? Promise.resolve()).then(step);
      this.githubChains.set(runId, next.catch(() => undefined));
      return next;
    };
    let task: Promise<void>;
    if (effect.kind === "dispatchJob" || effect.kind === "stopJobs" || effect.kind === "readCi") {
      // Jobs run side by side, a stop must not wait behind the run's GitHub writes, and a CI read
      // (which only reads) waits out its grace without holding up the writes decided after it.
      task = this.until(effect).then(perform);
    } else if (effect.kind === "upsertProgressComment") {
      // A coalesced progress update waits its turn beside the run's writes, then joins them in order.
      task = this.until(effect).then(() => chained(perform));
    } else {
      // A retried write keeps its place: the writes decided after it wait for it.
      task = chained(() => this.until(effect).then(perform));
    }
    const tracked = task
      .catch((error: unknown) => this.deps.log.error({ runId, key: effect.key, err: error }, "effect crashed"))
      .finally(() => {
        this.inFlight.delete(effect.key);
        this.tasks.delete(tracked);
      });
    this.tasks.add(tracked);
  }

  /** Notes read after the claim: an effect answered meanwhile (by any replica) is not pending any more. */
  private async performClaimed(runId: string, effect: Effect): Promise<void> {
    const run = await this.deps.store.load(runId);
    if (!run || !run.pending.some((e) => e.key === effect.key)) return;
    const answer = superseded(run, effect) ? { type: "comment.upserted" as const } : await executeEffect(run, effect, this.deps.effects);
    if (answer.type === "effect.failed") {
      this.deps.log.warn({ runId, effect: effect.kind, key: effect.key, failure: answer.failure }, "effect failed");
    }
    if (this.stopped) return;
    await this.submitWithRetry({ ...answer, runId, at: this.now(), key: effect.key } as Event);
  }

  /**
   * Resolves at the effect's `notBefore`, or as soon as it stops mattering: a decision dropped it
   * from the notes (a newer progress update replaced it, a stop cancelled a retry) or the engine stopped.
   */
  private until(effect: Effect): Promise<void> {
    const wait = effect.notBefore === undefined ? 0 : Date.parse(effect.notBefore) - this.clock().getTime();
    if (wait <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(effect.key);
        resolve();
      };
      const timer = setTimeout(wake, wait);
      this.waiting.set(effect.key, wake);
    });
  }

  /** Wakes the run's waiting effects that its new notes no longer hold, so they end now, not at their time. */
  private wakeDropped(run: Run): void {
    const pending = new Set(run.pending.map((e) => e.key));
    for (const [key, wake] of this.waiting) if (key.startsWith(`${run.id}:`) && !pending.has(key)) wake();
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

/** How many runs a restart resumes at once. */
const resumeConcurrency = 8;

/** `work` for every item, at most `limit` at a time; rejects with the first failure once all have settled. */
async function eachAtMost<T>(limit: number, items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
}

import type { Run } from "../domain/index.js";
import type { RunStore } from "../store/run-store.js";

/** Notes loaded at once while refreshing: enough to hide the store's latency, few enough to leave it room. */
const loadsAtOnce = 16;

interface Known<S> {
  stamp: string;
  /** Undefined for a run stamped without notes (a journal only): nothing to show until it is saved. */
  summary: S | undefined;
}

/**
 * The summaries of every run, kept between calls: each call asks the store for its stamps
 * (a stat or one MGET per thousand runs) and loads only the runs whose stamp changed since, so
 * a warm list of a thousand runs reads no notes. It trusts nothing but the stamps, so a run
 * saved by another replica is loaded again all the same.
 */
export class RunSummaries<S extends { id: string }> {
  private readonly known = new Map<string, Known<S>>();
  private running: Promise<S[]> | undefined;
  private queued: Promise<S[]> | undefined;

  constructor(
    private readonly store: Pick<RunStore, "runStamps" | "load">,
    private readonly summarize: (run: Run) => S,
  ) {}

  /**
   * Every run's summary, in the store's order (by run id). Calls made together share one refresh;
   * a call made while a refresh is under way waits for the next one, which starts after it, so
   * it sees every save that finished before the call.
   */
  all(): Promise<S[]> {
    // The queued refresh starts after this call in any case; checked first, so a call landing
    // between the end of one refresh and the start of the queued one never starts a second.
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    this.queued = this.running.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<S[]> {
    const refresh = this.refresh().finally(() => {
      if (this.running === refresh) this.running = undefined;
    });
    this.running = refresh;
    return refresh;
  }

  private async refresh(): Promise<S[]> {
    const stamps = await this.store.runStamps();
    for (const id of this.known.keys()) if (!stamps.has(id)) this.known.delete(id);
    const changed = [...stamps].filter(([id, stamp]) => this.known.get(id)?.stamp !== stamp);
    await eachAtMost(loadsAtOnce, changed, async ([id, stamp]) => {
      // The stamp is read before the notes: a save in between leaves a stale stamp, and the
      // next call loads the run once more, never the other way round.
      try {
        const run = await this.store.load(id);
        this.known.set(id, { stamp, summary: run && this.summarize(run) });
      } catch {
        // Notes that cannot be read or summed up (torn by hand, a Redis hiccup) must not hide the
        // other runs: this one is left out and tried again at the next call.
        this.known.delete(id);
      }
    });
    const summaries: S[] = [];
    for (const id of stamps.keys()) {
      const summary = this.known.get(id)?.summary;
      if (summary) summaries.push(summary);
    }
    return summaries;
  }
}

async function eachAtMost<T>(limit: number, items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

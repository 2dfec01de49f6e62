/**
 * What a benchmark is to `npm run bench`: a module in bench/ whose default export is a `Bench`,
 * returning rows. Adding a figure is adding such a module; bench/run.ts finds it, runs it in its
 * own process and prints its rows in the table (and in `--json`).
 */

/** One figure: the value measured, what it is compared with in the same run, and the verdict. */
export interface Row {
  name: string;
  value: number;
  unit: string;
  /**
   * What the value is read against, measured in this run: the same quantity on a reference (bare
   * Probot, plain git), shown with the ratio; or, with `ratio: false`, context in the same unit
   * (the idle app's whole memory next to the memory per run).
   */
  anchor?: { name: string; value: number; ratio?: false };
  /** The goal in words, e.g. "≤ 1.25 × anchor" or "< 1000 ms". */
  goal?: string;
  /** Whether the goal is met; absent when the row has no goal. */
  ok?: boolean;
  /** The conditions, briefly: counts, sizes, what is and is not included. */
  note?: string;
}

export interface BenchOptions {
  /** Small counts, for CI: the bench must still measure what it names, only less of it. */
  quick: boolean;
  /** Details worth reading when a figure surprises (shown with `--verbose` or when a bench fails). */
  log(line: string): void;
  /** The command line's other arguments (`--trials 50`), for benches that take their own. */
  args: string[];
}

export interface Bench {
  /** One line: what is measured. */
  title: string;
  /** Throws only when the measurement itself could not be made; a missed goal is a row with `ok: false`. */
  run(opts: BenchOptions): Promise<Row[]>;
}

export const defineBench = (bench: Bench): Bench => bench;

/** A row whose goal is a bound on its ratio to the anchor. */
export function ratioRow(row: Omit<Row, "goal" | "ok"> & { anchor: { name: string; value: number } }, most: number): Row {
  const ratio = row.value / row.anchor.value;
  return { ...row, goal: `≤ ${most}× anchor`, ok: Number.isFinite(ratio) && ratio <= most };
}

/** The q-quantile (0..1) by the nearest-rank method; NaN for no samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Times an async step in milliseconds. */
export async function timed<T>(step: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await step();
  return { ms: performance.now() - started, value };
}

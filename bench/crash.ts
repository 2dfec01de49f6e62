/**
 * Crash recovery: the real app runs the end-to-end scenario as a child process and is killed
 * with SIGKILL at a random moment, then restarted on the same state (100 trials, 3 with --quick;
 * `--trials N`, `--seed S`). A trial is ok when the run still ends gated with one branch, one PR,
 * one progress comment and one concluded gate: nothing lost, nothing done twice. The figure is
 * the time from the restart to the run finished, next to an uninterrupted run's time.
 */
import { crashTrials, summarize, type TrialOutcome } from "../test/kit/crash.js";
import { defineBench, median, quantile, round, type Row } from "./kit/figure.js";

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
}

export default defineBench({
  title: "crash recovery (SIGKILL at a random moment, then restart)",
  async run({ quick, log, args }) {
    const trials = Number(option(args, "trials") ?? (quick ? 3 : 100));
    if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials must be a positive integer, got ${option(args, "trials")}`);
    const seed = option(args, "seed");
    let cleanRunMs: number | undefined;
    const outcomes: TrialOutcome[] = await crashTrials({
      trials,
      ...(seed !== undefined && { seed: Number(seed) }),
      log: (line) => {
        // The calibration run (webhook → gated, no kill) is the anchor: what recovery is read against.
        cleanRunMs ??= Number(/clean run (\d+) ms/.exec(line)?.[1]) || undefined;
        log(line);
      },
    });
    log(summarize(outcomes));
    for (const o of outcomes.filter((x) => x.outcome !== "ok")) log(`problem in trial ${o.trial} (kill at ${o.killAtMs} ms): ${o.details.join("; ")}`);
    const recovery = outcomes.map((o) => o.recoveryMs);
    const uninterrupted = [...(cleanRunMs === undefined ? [] : [cleanRunMs]), ...outcomes.flatMap((o) => (o.runMs === undefined ? [] : [o.runMs]))];
    const anchor = uninterrupted.length > 0 ? { anchor: { name: "uninterrupted run", value: round(median(uninterrupted), 0) } } : {};
    const ok = outcomes.filter((o) => o.outcome === "ok").length;
    // Not one recovery to time: the app itself is broken, which is no figure.
    if (ok === 0) throw new Error(`no trial recovered: ${outcomes[0]?.details.join("; ") ?? "no trial ran"}`);
    const rows: Row[] = [
      { name: "recovery, restart → finished, median", value: round(median(recovery), 0), unit: "ms", ...anchor, note: `${trials} trials; kill points uniform over a run` },
      { name: "recovery, restart → finished, p95", value: round(quantile(recovery, 0.95), 0), unit: "ms" },
      { name: "trials with nothing lost or done twice", value: ok, unit: `of ${trials}`, goal: "all", ok: ok === trials },
    ];
    return rows;
  },
});

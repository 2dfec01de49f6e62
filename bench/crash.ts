/**
 * Crash trials at scale: `tsx bench/crash.ts [--trials N] [--seed S]` (default 100 trials).
 * Each trial SIGKILLs the real app at a random moment of the end-to-end scenario and restarts it;
 * prints one row per trial, then the figures.
 */
import { parseArgs } from "node:util";
import { crashTrials, summarize, type TrialOutcome } from "../test/kit/crash.js";

// Not strict: `npm run bench` passes every benchmark the same arguments (`--json` is for the others).
const { values } = parseArgs({ options: { trials: { type: "string", default: "100" }, seed: { type: "string" } }, strict: false });
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials must be a positive integer, got ${values.trials}`);

const started = performance.now();
const outcomes = await crashTrials({ trials, ...(values.seed !== undefined && { seed: Number(values.seed) }), log: (line) => console.log(line) });
const wallS = (performance.now() - started) / 1000;

console.log("");
console.log(summarize(outcomes));
console.log(`wall time: ${wallS.toFixed(1)} s, ${(wallS / trials).toFixed(2)} s per trial`);
const unfinished = outcomes.filter((o) => o.phaseAtKill !== "gated");
console.log(`recovery, restart to finished, all trials:        ${figures(outcomes)}`);
console.log(`recovery, restart to finished, killed mid-run:    ${figures(unfinished)}`);
const byPhase = new Map<string, number>();
for (const o of outcomes) byPhase.set(o.phaseAtKill, (byPhase.get(o.phaseAtKill) ?? 0) + 1);
console.log(`phase at kill: ${[...byPhase].map(([phase, n]) => `${phase} ${n}`).join(", ")}`);
const lost = outcomes.filter((o) => o.deliveryAtKill === "lost").length;
console.log(`deliveries lost with the process (redelivered): ${lost}`);
for (const o of outcomes.filter((x) => x.outcome !== "ok")) console.log(`problem in trial ${o.trial} (kill at ${o.killAtMs} ms): ${o.details.join("; ")}`);
process.exitCode = outcomes.every((o) => o.outcome === "ok") ? 0 : 1;

function figures(list: TrialOutcome[]): string {
  if (list.length === 0) return "n/a";
  const ms = list.map((o) => o.recoveryMs).sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)]!);
  return `n ${ms.length}, median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${Math.round(ms.at(-1)!)} ms`;
}

/**
 * Loaded first into each server the webhook bench times (`node --import tsx --import
 * bench/kit/server-meter.ts <entry>`), the same into both, since another process cannot read a
 * process's garbage-collection pauses. A line `mark` on stdin starts the count; when stdin ends
 * it prints `done {…}` (CPU time, GC pauses, page faults and context switches since the mark) and
 * the process exits.
 */
import { PerformanceObserver } from "node:perf_hooks";
import { createInterface } from "node:readline";

/** What a server says when stdin ends. */
export type ServerDone = { cpuMs: number; gc: { count: number; ms: number }; pageFaults: number; switches: { voluntary: number; involuntary: number } };

let cpu = process.cpuUsage();
let usage = process.resourceUsage();
let gc = { count: 0, ms: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count += 1;
    gc.ms += entry.duration;
  }
}).observe({ entryTypes: ["gc"] });

createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (line.trim() !== "mark") return;
    cpu = process.cpuUsage();
    usage = process.resourceUsage();
    gc = { count: 0, ms: 0 };
  })
  .on("close", () => {
    const used = process.cpuUsage(cpu);
    const now = process.resourceUsage();
    const done: ServerDone = {
      cpuMs: (used.user + used.system) / 1000,
      gc,
      pageFaults: now.minorPageFault + now.majorPageFault - usage.minorPageFault - usage.majorPageFault,
      switches: { voluntary: now.voluntaryContextSwitches - usage.voluntaryContextSwitches, involuntary: now.involuntaryContextSwitches - usage.involuntaryContextSwitches },
    };
    process.stdout.write(`done ${JSON.stringify(done)}\n`, () => process.exit(0));
  });

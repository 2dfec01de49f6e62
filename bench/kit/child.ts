/**
 * One benchmark in a process of its own (`node --import tsx bench/kit/child.ts <module> [args]`),
 * so that no bench measures another's leftovers: heap, timers, nock, environment. Sends its rows
 * to bench/run.ts over IPC. A module without a `Bench` default export is a plain script that
 * printed its own figures when imported; it is reported as such.
 */
import { pathToFileURL } from "node:url";
import type { Bench, Row } from "./figure.js";

export type ChildMessage = { kind: "rows"; title: string; rows: Row[] } | { kind: "script" } | { kind: "error"; error: string };

const [file, ...args] = process.argv.slice(2);
let message: ChildMessage;
try {
  const loaded = (await import(pathToFileURL(file!).href)) as { default?: Partial<Bench> };
  const bench = loaded.default;
  if (bench && typeof bench.run === "function") {
    const rows = await bench.run({ quick: args.includes("--quick"), log: (line) => console.log(line), args });
    message = { kind: "rows", title: bench.title ?? file!, rows };
  } else if (process.exitCode !== undefined && process.exitCode !== 0) {
    message = { kind: "error", error: `the script ended with exit code ${process.exitCode}` };
  } else {
    message = { kind: "script" };
  }
} catch (error) {
  message = { kind: "error", error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
}
// Benches leave servers and timers behind on purpose (a hanging model turn): the answer is what counts.
const exit = () => process.exit(message.kind === "error" ? 1 : 0);
// Started by hand (to profile one bench, say), there is no bench/run.ts to answer: print instead.
if (process.send) process.send(message, exit);
else process.stdout.write(`${JSON.stringify(message, null, 2)}\n`, exit);

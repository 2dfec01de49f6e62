/**
 * Saves runs through their phases forever, until the parent SIGKILLs it:
 * `node --import tsx test/store/file-crash-child.ts <state dir>`. Prints "ready" after the first round.
 */
import type { Run } from "../../src/domain/index.js";
import { FileRunStore } from "../../src/store/file.js";
import { historyRun } from "../orchestrator/history-kit.js";

const dir = process.argv[2];
if (!dir) throw new Error("usage: file-crash-child.ts <state dir>");
const store = new FileRunStore(dir);

/** One cycle of a run's life; the PR changes from one cycle to the next (a relabel opens a new one). */
const steps: Array<(issue: number, pr: number) => Run> = [
  (n) => historyRun(n, "building"),
  (n, pr) => historyRun(n, "reviewing", { pr: { number: pr, url: "u" } }),
  (n, pr) => historyRun(n, "gated", { pr: { number: pr, url: "u" } }),
  (n, pr) => historyRun(n, "done", { pr: { number: pr, url: "u" } }),
  (n) => historyRun(n, "escalated", { pending: [{ kind: "upsertProgressComment", key: `octo/app#${n}:upsertProgressComment:1`, body: "x" }] }),
  (n) => historyRun(n, "cancelled"),
];

for (let round = 0; ; round++) {
  for (let issue = 1; issue <= 6; issue++) {
    const at = round + issue;
    const cycle = Math.floor(at / steps.length);
    await store.save(steps[at % steps.length]!(issue, issue * 10 + (cycle % 2)));
  }
  if (round === 0) process.stdout.write("ready\n");
}

import { describe, expect, it } from "vitest";
import { chaosTrials, row, summarize } from "../kit/chaos.js";

const trials = Number(process.env.SHOPFLOOR_CHAOS_TRIALS ?? 20);

describe("a cluster (Redis with AOF, two app replicas, three runner nodes) under kill -9", () => {
  it(`ends every run once, with one PR, one progress comment and one gate, over ${trials} trials`, async () => {
    const lines: string[] = [];
    const outcomes = await chaosTrials({ trials, log: (line) => lines.push(line) });
    console.log([...lines, summarize(outcomes)].join("\n"));
    expect(outcomes).toHaveLength(trials + 1);
    expect(outcomes.filter((o) => o.outcome !== "ok").map(row)).toEqual([]);
  }, 120_000 + trials * 200_000);
});

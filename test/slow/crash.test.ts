import { describe, expect, it } from "vitest";
import { crashTrials, formatRow, summarize } from "../kit/crash.js";

const trials = Number(process.env.SHOPFLOOR_CRASH_TRIALS ?? 30);

describe("a kill -9 at any moment of a run", () => {
  it(`loses nothing and does nothing twice, over ${trials} random kill points`, async () => {
    const lines: string[] = [];
    const outcomes = await crashTrials({ trials, log: (line) => lines.push(line) });
    console.log([...lines, summarize(outcomes)].join("\n"));
    expect(outcomes).toHaveLength(trials);
    expect(outcomes.filter((o) => o.outcome !== "ok").map(formatRow)).toEqual([]);
  }, 60_000 + trials * 45_000);
});

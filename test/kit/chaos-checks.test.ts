import { describe, expect, it } from "vitest";
import { jobSpans, overlaps, stillRunning } from "./chaos-checks.js";
import type { JobClockLine } from "./job-clock.js";

const run = "Codertocat/Hello-World#11";
const line = (at: number, pid: number, edge: JobClockLine["edge"], job: string): JobClockLine => ({ at, pid, edge, jobId: `${run}:${job}` });

describe("the chaos test's job clock", () => {
  it("finds one job running on two runners at once", () => {
    const spans = jobSpans([line(100, 1, "start", "plan:a1"), line(150, 2, "start", "plan:a1"), line(300, 1, "end", "plan:a1"), line(400, 2, "end", "plan:a1")], new Map());
    expect(overlaps(spans, 0)).toEqual([`job ${run}:plan:a1 ran twice at once: pid 1 [100, 300] ms and pid 2 [150, 400] ms`]);
  });

  it("finds a retry that starts while the first attempt still runs", () => {
    const spans = jobSpans([line(100, 1, "start", "build:impl:g0a1"), line(200, 2, "start", "build:impl:g0a2"), line(250, 2, "end", "build:impl:g0a2"), line(300, 1, "end", "build:impl:g0a1")], new Map());
    expect(overlaps(spans, 0)).toEqual([`#11:build:impl:g0: attempts a1 and a2 ran at once: pid 1 [100, 300] ms and pid 2 [200, 250] ms`]);
  });

  it("ends a killed runner's job at the kill, so a later retry elsewhere is no overlap", () => {
    const spans = jobSpans([line(100, 1, "start", "plan:a1"), line(500, 2, "start", "plan:a2"), line(600, 2, "end", "plan:a2")], new Map([[1, 400]]));
    expect(overlaps(spans, 0)).toEqual([]);
    expect(stillRunning(spans)).toEqual([]);
  });

  it("counts a job of a live runner with no end as still running, overlapping what came after", () => {
    const spans = jobSpans([line(100, 1, "start", "plan:a1"), line(500, 2, "start", "plan:a2"), line(600, 2, "end", "plan:a2")], new Map());
    expect(stillRunning(spans)).toEqual([`job ${run}:plan:a1 still running on pid 1 after its run finished`]);
    expect(overlaps(spans, 0)).toHaveLength(1);
  });

  it("lets the same job run again on one runner after it ended (a re-sent job answered from its result)", () => {
    const spans = jobSpans([line(100, 1, "start", "plan:a1"), line(200, 1, "end", "plan:a1"), line(200, 1, "start", "plan:a1"), line(300, 1, "end", "plan:a1")], new Map());
    expect(spans).toHaveLength(2);
    expect(overlaps(spans, 0)).toEqual([]);
  });
});

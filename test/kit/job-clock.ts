/**
 * Preloaded into every process of a cluster test (`node --import tsx --import ./test/kit/job-clock.ts
 * src/cli.ts runner`), so the real runner runs unchanged while the test learns when each job ran.
 *
 * BullMQ hands every job to its processor through `Worker.prototype.callProcessJob`, and awaits
 * it until the handler returns, whatever happened to the job's lock meanwhile. Wrapping it gives
 * a job's true span on this process: a "start" line before the handler, an "end" line after it.
 * A process killed mid-job writes no end; the test knows when it killed it. Lines go to
 * `SHOPFLOOR_KIT_JOB_LOG` (one short append each, so concurrent writers never interleave).
 */
import { appendFileSync } from "node:fs";
import { Worker, type Job } from "bullmq";

export interface JobClockLine {
  at: number;
  pid: number;
  edge: "start" | "end";
  /** Shopfloor's job id (`<run>:<kind>:…a<attempt>`), or BullMQ's id for a job that is not ours. */
  jobId: string;
}

const logPath = process.env.SHOPFLOOR_KIT_JOB_LOG;
if (logPath) {
  type Call = (this: Worker, job: Job, token: string, signal?: AbortSignal) => Promise<unknown>;
  const prototype = Worker.prototype as unknown as { callProcessJob: Call };
  const original = prototype.callProcessJob;
  const mark = (edge: JobClockLine["edge"], jobId: string) => {
    const line: JobClockLine = { at: Date.now(), pid: process.pid, edge, jobId };
    appendFileSync(logPath, `${JSON.stringify(line)}\n`);
  };
  prototype.callProcessJob = async function (this: Worker, job, token, signal) {
    const data = job.data as { jobId?: unknown } | undefined;
    const jobId = typeof data?.jobId === "string" ? data.jobId : String(job.id);
    mark("start", jobId);
    try {
      return await original.call(this, job, token, signal);
    } finally {
      mark("end", jobId);
    }
  };
}

// The test holds stdin open; if it dies without killing this process, the node must not linger.
if (process.env.SHOPFLOOR_KIT_EXIT_WITH_PARENT === "1") process.stdin.on("end", () => process.exit(0)).resume();

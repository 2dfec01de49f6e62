import { performance } from "node:perf_hooks";
import type { Job, JobOutcome, Usage } from "../domain/index.js";
import type { JobQueue } from "./job-queue.js";

/** One job answered: what it was, what came back, and how long the engine waited for it. */
export interface JobAnswer {
  job: Job;
  outcome: JobOutcome;
  /** Wall time from submission to answer (ms): the wait for a runner is part of what the engine waits. */
  ms: number;
}

/**
 * The same queue, telling `onAnswer` about every job it answers (for `/metrics`). A job sent
 * again while it is in flight shares the first submission's outcome and is told once. The
 * listener is an onlooker: whatever it throws, the job's outcome goes to the engine unchanged.
 */
export function meteredQueue(queue: JobQueue, onAnswer: (answer: JobAnswer) => void, now: () => number = () => performance.now()): JobQueue {
  const inFlight = new Map<string, Promise<JobOutcome>>();
  return {
    run(job) {
      const existing = inFlight.get(job.jobId);
      if (existing) return existing;
      const submitted = now();
      const answered = queue.run(job).then((outcome) => {
        try {
          onAnswer({ job, outcome, ms: now() - submitted });
        } catch {
          // Metrics must never cost a job its outcome.
        }
        return outcome;
      });
      const tracked = answered.finally(() => inFlight.delete(job.jobId));
      inFlight.set(job.jobId, tracked);
      return tracked;
    },
    status: (jobId) => queue.status(jobId),
    health: () => queue.health(),
    size: () => queue.size(),
    startedAt: (jobId) => queue.startedAt(jobId),
    cancel: (jobId, reason) => queue.cancel(jobId, reason),
    close: () => queue.close(),
  };
}

/** The role a job's time and spend are counted under: the same names the run's notes charge spend to. */
export function jobRole(job: Job): string {
  switch (job.kind) {
    case "plan":
      return "planner";
    case "build":
      return job.subtask.role;
    case "review":
      return "reviewer";
    case "scrutiny":
      return "scrutiny";
  }
}

/**
 * How a job ended, in a few words a graph can split on: `ok`; `blocked` or `failed` as the
 * worker reported its own work; `transient` (retried) or `permanent` (escalated) when the job
 * itself failed.
 */
export type JobVerdict = "ok" | "blocked" | "failed" | "transient" | "permanent";

export function jobVerdict(outcome: JobOutcome): JobVerdict {
  if (!outcome.ok) return outcome.failure.class;
  return outcome.output.kind === "build" ? outcome.output.result.status : "ok";
}

/** The model usage an outcome carries, whether the job succeeded or not. */
export function outcomeUsage(outcome: JobOutcome): readonly Usage[] {
  if (!outcome.ok) return outcome.usage;
  const output = outcome.output;
  switch (output.kind) {
    case "plan":
      return output.usage;
    case "build":
      return output.result.usage;
    case "review":
      return output.review.usage;
    case "scrutiny":
      return [];
  }
}

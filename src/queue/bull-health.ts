import type { Queue } from "bullmq";
import { fromBullId } from "./bull-shared.js";
import type { QueueHealth } from "./job-queue.js";

/** A worker's Redis client is named `<prefix>:<queue in base64>:w:<runner name>` by BullMQ. */
const workerNameMark = ":w:";

/**
 * Queue health as Redis knows it, across every node: a handful of commands whose cost follows
 * the running jobs (at most runners × concurrency) and never the queue's history or depth.
 */
export async function readBullHealth(queue: Queue, now = Date.now()): Promise<QueueHealth> {
  const [counts, oldest, active, workers] = await Promise.all([
    queue.getJobCounts("waiting"),
    // Ascending: the oldest waiting job alone, not the whole list.
    queue.getJobs(["waiting"], 0, 0, true),
    queue.getJobs(["active"]),
    queue.getWorkers(),
  ]);
  const activeByRunner: Record<string, number> = {};
  const jobsByRunner: Record<string, string[]> = {};
  for (const client of workers) {
    const raw = String(client.rawname ?? "");
    const at = raw.indexOf(workerNameMark);
    if (at >= 0) {
      const runner = raw.slice(at + workerNameMark.length);
      activeByRunner[runner] = 0;
      jobsByRunner[runner] = [];
    }
  }
  for (const job of active) {
    const runner = job.processedBy ?? "unnamed";
    activeByRunner[runner] = (activeByRunner[runner] ?? 0) + 1;
    // A job removed between the listing and its read has no id left to show.
    if (job.id !== undefined) (jobsByRunner[runner] ??= []).push(fromBullId(job.id));
  }
  const first = oldest[0];
  return {
    waiting: counts.waiting ?? 0,
    oldestWaitingMs: first ? Math.max(0, now - first.timestamp) : undefined,
    activeByRunner,
    jobsByRunner,
  };
}

import type { JobStatus, QueueHealth } from "../../src/queue/job-queue.js";

/** For fake queues that hold no job across a restart: every job asked about is gone. */
export const goneStatus = async (): Promise<JobStatus> => ({ state: "gone" });
/** For fake queues with nothing waiting and no runner to report. */
export const emptyHealth = async (): Promise<QueueHealth> => ({ waiting: 0, oldestWaitingMs: undefined, activeByRunner: {}, jobsByRunner: {} });

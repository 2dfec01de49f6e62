import type { QueueEventsListener } from "bullmq";
import { JobOutcomeSchema, type JobOutcome } from "../domain/index.js";

/** What the orchestrator side (`BullJobQueue`) and runner nodes (`startRunner`) agree on in Redis. */

/** One queue name shared by orchestrator and runner nodes. */
export const DEFAULT_QUEUE_NAME = "shopfloor-jobs";
/** The custom event runners listen on to abort a job (see `BullJobQueue.cancel`). */
export const CANCEL_EVENT = "shopfloor:cancel";

export interface CancelListener extends QueueEventsListener {
  [CANCEL_EVENT]: (args: { jobId?: string; reason?: string }, id: string) => void;
}

/** How long a stop mark waits for its job to be taken; a job waits no longer than a day. */
export const STOPPED_TTL_SECONDS = 24 * 60 * 60;
/** The stop mark of a job, beside the queue's own keys. */
export const stoppedKey = (on: { keys: Record<string, string> }, bullId: string): string => `${on.keys[""]}stopped:${bullId}`;

/** BullMQ refuses ':' in custom job ids, and ours are `<owner>/<repo>#<n>:<kind>:…`; '|' never occurs in them. */
export const toBullId = (jobId: string): string => jobId.replace(/:/g, "|");
export const fromBullId = (bullId: string): string => bullId.replace(/\|/g, ":");

/** An outcome that crossed Redis; a malformed one is a bug in a runner, not something to retry. */
export function parseOutcome(raw: unknown, jobId: string): JobOutcome {
  let value = raw;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      // left as the string; the schema check below reports it
    }
  }
  const parsed = JobOutcomeSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  return {
    ok: false,
    failure: { class: "permanent", reason: "bug", detail: `job ${jobId} answered an outcome that is not a JobOutcome: ${parsed.error.message}` },
    usage: [],
  };
}

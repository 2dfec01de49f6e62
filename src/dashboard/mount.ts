import type { IncomingMessage, ServerResponse } from "node:http";
import type { RunStore } from "../store/run-store.js";
import { githubWebUrl, MissionControlAuth, missionControlAuthSettings } from "./auth.js";
import { missionControlHandler, type FloorQueueReading, type PageAction, type PageActionOutcome } from "./mission-control.js";
import { RunSummaries } from "./run-cache.js";
import { summarizeRun } from "./summary.js";
import type { RunSummary } from "./types.js";

export interface MissionControlMount {
  env: NodeJS.ProcessEnv;
  store: RunStore;
  queueHealth(): Promise<FloorQueueReading>;
  act(action: PageAction): Promise<PageActionOutcome>;
  redact(text: string): string;
  liveIntervalMs: number;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * Mission Control as one handler for Probot's `addHandler`, and the run summaries it lists,
 * which `/metrics` counts by phase too. Sign-in is on when the App's OAuth client is set.
 */
export function mountMissionControl(opts: MissionControlMount): {
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  summaries: () => Promise<RunSummary[]>;
  close(): void;
} {
  const authSettings = missionControlAuthSettings(opts.env);
  const webUrl = githubWebUrl(opts.env);
  const cache = new RunSummaries(opts.store, (run) => summarizeRun(run, { webUrl }));
  // Every open page asks on every tick: pages asking within half a tick share one reading of the stamps.
  let latest: { at: number; summaries: Promise<RunSummary[]> } | undefined;
  const summaries = () => {
    const now = Date.now();
    if (!latest || now - latest.at >= opts.liveIntervalMs / 2) latest = { at: now, summaries: cache.all() };
    return latest.summaries;
  };
  const handler = missionControlHandler({
    store: opts.store,
    summaries,
    auth: authSettings && new MissionControlAuth(authSettings),
    webUrl,
    queueHealth: opts.queueHealth,
    redact: opts.redact,
    act: opts.act,
    liveIntervalMs: opts.liveIntervalMs,
    ...(opts.log && { log: opts.log }),
  });
  return { handler, summaries, close: () => handler.close() };
}

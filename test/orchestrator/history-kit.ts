import { emptyHealth, goneStatus } from "./queue-fakes.js";
import { RunSchema, defaultRepoConfig, type Phase, type Run } from "../../src/domain/index.js";
import type { JobQueue } from "../../src/queue/job-queue.js";
import type { RunStore } from "../../src/store/run-store.js";

/** A run of `octo/app` in a given phase, as the notes of a real run would look. */
export function historyRun(issue: number, phase: Phase, overrides: Partial<Run> = {}): Run {
  return RunSchema.parse({
    id: `octo/app#${issue}`,
    repo: { owner: "octo", name: "app", installationId: 42 },
    issue: { number: issue, title: `Issue ${issue}`, body: "Please do it." },
    requestedBy: "writer",
    deliveryId: `d-${issue}`,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    phase,
    config: defaultRepoConfig,
    branch: `shopfloor/${issue}-issue`,
    deliveries: [`d-${issue}`],
    ...overrides,
  });
}

/** The store as it is, counting every `load` (what a sweep or a lookup costs). */
export function countingLoads<S extends RunStore>(store: S): { store: S; loads: string[] } {
  const loads: string[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === "load") {
        return (runId: string) => {
          loads.push(runId);
          return target.load(runId);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, loads };
}

/** A queue with nothing running: the sweep finds no stall. */
export const idleQueue: JobQueue = {
  run: () => Promise.reject(new Error("no job is run in these tests")),
  size: () => 0,
  startedAt: () => undefined,
  cancel: () => false,
  close: () => Promise.resolve(),
  status: goneStatus,
  health: emptyHealth,
};

export const quietLog = { info() {}, warn() {}, error() {} };

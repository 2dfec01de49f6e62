import type { JobProgress, Run } from "../domain/index.js";
import { describeStage, stageKey, type Stage } from "./timeline.js";

export interface StageHooks {
  start(stage: Stage): void;
  update(stage: Stage): void;
  end(stage: Stage): void;
}

/**
 * Follows a run's notes and its jobs' progress, and tells a view when a stage starts, changes
 * and ends. A stage that ends is described from the notes that ended it, so it shows its outcome.
 */
export class StageTracker {
  private run: Run | undefined;
  private key: string | undefined;
  private readonly progress: Record<string, JobProgress> = {};

  constructor(private readonly hooks: StageHooks) {}

  onRun(run: Run): void {
    this.run = run;
    const key = stageKey(run);
    if (key === this.key) return this.hooks.update(describeStage(run, key, this.progress));
    if (this.key !== undefined) this.hooks.end(describeStage(run, this.key, this.progress));
    this.key = key;
    this.hooks.start(describeStage(run, key, this.progress));
  }

  onProgress(progress: JobProgress): void {
    this.progress[progress.jobId] = progress;
    if (this.run && this.key !== undefined) this.hooks.update(describeStage(this.run, this.key, this.progress));
  }

  /** The last stage ends where the run stopped (finished, interrupted, or waiting for a person). */
  finish(): void {
    if (this.run && this.key !== undefined) this.hooks.end(describeStage(this.run, this.key, this.progress));
    this.key = undefined;
  }
}

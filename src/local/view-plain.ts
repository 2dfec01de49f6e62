import type { JobProgress, Run } from "../domain/index.js";
import { StageTracker } from "./stage-tracker.js";
import type { Stage, StageItem } from "./timeline.js";
import type { RunView } from "./view.js";

const mark = { ok: "✔", failed: "✖", running: "…", pending: "·" } as const;

/**
 * Plain lines, for a terminal that is not one (CI, a pipe, a log file): each stage when it starts
 * and ends, each item when its state or progress changes, nothing rewritten.
 */
export class PlainView implements RunView {
  private readonly shown = new Map<string, string>();
  private readonly tracker: StageTracker;

  constructor(private readonly write: (line: string) => void) {
    this.tracker = new StageTracker({
      start: (stage) => {
        this.write(`▸ ${stage.title}`);
        this.items(stage);
      },
      update: (stage) => this.items(stage),
      end: (stage) => {
        this.items(stage);
        // A stage that ends while still running was cut short: Ctrl-C, or a plan waiting for a person.
        this.write(stage.state === "running" ? `■ ${stage.title} (stopped here)` : `${mark[stage.state === "failed" ? "failed" : "ok"]} ${stage.title}`);
        for (const note of stage.notes) this.write(`  ${note}`);
      },
    });
  }

  run(run: Run): void {
    this.tracker.onRun(run);
  }

  progress(progress: JobProgress): void {
    this.tracker.onProgress(progress);
  }

  note(text: string): void {
    this.write(text);
  }

  async close(): Promise<void> {
    this.tracker.finish();
  }

  /** An item's line when it says something new; its notes once it is done. */
  private items(stage: Stage): void {
    for (const item of stage.items) {
      const line = `  ${mark[item.state]} ${item.title}${item.detail ? ` — ${item.detail}` : ""}`;
      const id = `${stage.key}/${item.id}`;
      if (this.shown.get(id) === line || (item.state === "pending" && !this.shown.has(id))) continue;
      this.shown.set(id, line);
      this.write(line);
      if (done(item)) for (const note of item.notes) this.write(`      ${note}`);
    }
  }
}

const done = (item: StageItem) => item.state === "ok" || item.state === "failed";

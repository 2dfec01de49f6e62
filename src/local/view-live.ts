import { Listr, type ListrTask, type ListrTaskWrapper } from "listr2";
import type { JobProgress, Run } from "../domain/index.js";
import { StageTracker } from "./stage-tracker.js";
import type { Stage, StageItem } from "./timeline.js";
import type { RunView } from "./view.js";

type Wrapper = ListrTaskWrapper<unknown, any, any>;

/**
 * The live view for a terminal, with listr2: each stage a task, its items (subtasks, reviewers,
 * gate items) as subtasks with their progress under them. A task list is fixed once it runs,
 * and a run's stages are known only as they come (a fix round adds some), so each stage is
 * followed by an untitled task that waits for the next one and adds it; listr2 draws the
 * subtasks of an untitled task at its own level, so the stages read as one flat list.
 */
export class LiveView implements RunView {
  private readonly tracker: StageTracker;
  private readonly stages = new Feed<StageRun | undefined>();
  private current: StageRun | undefined;
  private readonly drawn: Promise<unknown>;

  constructor() {
    this.tracker = new StageTracker({
      start: (stage) => {
        this.current = new StageRun(stage);
        this.stages.push(this.current);
      },
      update: (stage) => this.current?.update(stage),
      end: (stage) => this.current?.end(stage),
    });
    const list = new Listr([this.next()], {
      exitOnError: false,
      // Ctrl-C is the run's to handle: listr2 would otherwise exit the process on its own.
      registerSignalListeners: false,
      renderer: "default",
      rendererOptions: { collapseSubtasks: false, formatOutput: "wrap", removeEmptyLines: true },
    });
    this.drawn = list.run().catch(() => undefined);
  }

  run(run: Run): void {
    this.tracker.onRun(run);
  }

  progress(progress: JobProgress): void {
    this.tracker.onProgress(progress);
  }

  note(text: string): void {
    this.current?.note(text);
  }

  async close(): Promise<void> {
    this.tracker.finish();
    this.stages.push(undefined);
    await this.drawn;
  }

  /** The untitled task that waits for the next stage and adds it, followed by another of itself. */
  private next(): ListrTask<unknown, any, any> {
    return {
      task: async (_ctx, task) => {
        const stage = await this.stages.take();
        if (!stage) return;
        return task.newListr([stage.task(), this.next()], { exitOnError: false });
      },
    };
  }
}

/** One stage as listr2 draws it, fed by the tracker until it ends. */
class StageRun {
  private wrapper: Wrapper | undefined;
  private readonly items = new Map<string, { wrapper?: Wrapper; settle: (item: StageItem | undefined) => void; done: Promise<StageItem | undefined> }>();
  private readonly notes: string[] = [];
  private finished: ((stage: Stage) => void) | undefined;
  private readonly ended = new Promise<Stage>((resolve) => (this.finished = resolve));

  constructor(private stage: Stage) {
    for (const item of stage.items) {
      let settle!: (item: StageItem | undefined) => void;
      const done = new Promise<StageItem | undefined>((resolve) => (settle = resolve));
      this.items.set(item.id, { settle, done });
    }
  }

  task(): ListrTask<unknown, any, any> {
    return {
      title: this.stage.title,
      task: (_ctx, wrapper) => {
        this.wrapper = wrapper;
        this.update(this.stage);
        const items = this.stage.items.map((item) => this.itemTask(item.id));
        // Untitled and last: fails the stage (a red cross) when its outcome is a failure.
        const verdict: ListrTask<unknown, any, any> = {
          task: async () => {
            const stage = await this.ended;
            if (stage.state === "failed") throw new Error(stage.title);
            // Still running when it ended: cut short (Ctrl-C, or a plan waiting for a person).
            if (stage.state === "running") {
              if (this.wrapper) this.wrapper.title = `${stage.title} (stopped here)`;
              throw new Error(`${stage.title} (stopped here)`);
            }
          },
        };
        return wrapper.newListr([...items, verdict], { concurrent: true, exitOnError: true });
      },
      rendererOptions: { persistentOutput: true, outputBar: 1 },
    };
  }

  update(stage: Stage): void {
    this.stage = stage;
    if (!this.wrapper) return;
    this.wrapper.title = stage.title;
    // Items the stage did not know when it started (the commands' outcomes) are lines under it.
    const extra = stage.items.filter((i) => !this.items.has(i.id)).map((i) => `${i.state === "ok" ? "✔" : i.state === "failed" ? "✖" : "…"} ${i.title} — ${i.detail}`);
    const lines = [...extra, ...(stage.key === "end" || stage.state !== "running" ? stage.notes : []), ...this.notes];
    // One block, replaced whole (the output bar shows the latest write); empty lines are not drawn.
    this.wrapper.output = lines.join("\n");
    for (const item of stage.items) this.showItem(item);
  }

  end(stage: Stage): void {
    this.update(stage);
    for (const [id, entry] of this.items) entry.settle(stage.items.find((i) => i.id === id));
    this.finished?.(stage);
  }

  note(text: string): void {
    this.notes.push(text);
    this.update(this.stage);
  }

  private itemTask(id: string): ListrTask<unknown, any, any> {
    const entry = this.items.get(id)!;
    const item = this.stage.items.find((i) => i.id === id)!;
    return {
      title: item.title,
      exitOnError: false,
      rendererOptions: { persistentOutput: true, outputBar: 1 },
      task: async (_ctx, wrapper) => {
        entry.wrapper = wrapper;
        this.showItem(this.stage.items.find((i) => i.id === id) ?? item);
        const final = await entry.done;
        if (!final || final.state === "pending" || final.state === "running") {
          wrapper.output = "";
          return wrapper.skip(`${item.title} — ${final?.state === "running" ? "stopped" : "not run"}`);
        }
        if (final.state === "failed") throw new Error(`${final.title} — ${final.detail}`);
      },
    };
  }

  private showItem(item: StageItem): void {
    const entry = this.items.get(item.id);
    if (!entry?.wrapper) return;
    const finished = item.state === "ok" || item.state === "failed";
    entry.wrapper.title = finished && item.detail ? `${item.title} — ${item.detail}` : item.title;
    entry.wrapper.output = (finished ? item.notes : [item.detail]).join("\n");
    if (finished) entry.settle(item);
  }
}

/** Values handed from the run's side to listr2's, in order, each taken once. */
class Feed<T> {
  private readonly values: T[] = [];
  private readonly waiting: ((value: T) => void)[] = [];

  push(value: T): void {
    const taker = this.waiting.shift();
    if (taker) taker(value);
    else this.values.push(value);
  }

  take(): Promise<T> {
    if (this.values.length > 0) return Promise.resolve(this.values.shift()!);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

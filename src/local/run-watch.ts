import { terminalPhases, type JobProgress, type Run } from "../domain/index.js";
import type { Engine } from "../orchestrator/engine.js";
import type { RunView } from "./view.js";

/** Why this process stopped following its run. */
export type Ending = "done" | "approval" | "interrupted";

/**
 * Follows a run's notes to the moment this process is done with it: finished with nothing
 * pending, waiting for a plan approval (approved at once when `approve`, as the person at the
 * terminal), or Ctrl-C. Hands every save and progress report to the view once there is one.
 */
export class RunWatch {
  readonly ended: Promise<Ending>;
  private settle!: (how: Ending) => void;
  private view: RunView | undefined;
  private engine: Engine | undefined;
  private approved = false;

  constructor(
    private readonly runId: string,
    private readonly approve: { by: string } | undefined,
  ) {
    this.ended = new Promise((resolve) => (this.settle = resolve));
  }

  /** From here on the view shows the run and the engine takes an approval. */
  follow(view: RunView, engine: Engine): void {
    this.view = view;
    this.engine = engine;
  }

  saw(run: Run): void {
    this.view?.run(run);
    // After the save that told us: a decision taken from here must not wait inside it.
    if (this.engine) setImmediate(() => this.check(run));
  }

  progress(progress: JobProgress): void {
    this.view?.progress(progress);
  }

  note(text: string): void {
    this.view?.note(text);
  }

  interrupt(): void {
    this.view?.note("Stopping: the jobs are told to stop; the notes are kept for --resume.");
    this.settle("interrupted");
  }

  private check(run: Run): void {
    if (run.pending.length > 0) return;
    if (terminalPhases.includes(run.phase)) return this.settle("done");
    if (run.phase !== "awaiting_approval") return;
    if (!this.approve) return this.settle("approval");
    if (this.approved || !this.engine) return;
    this.approved = true;
    const approval = { type: "plan.approved" as const, runId: this.runId, at: new Date().toISOString(), by: this.approve.by };
    this.engine.submit(approval).catch(() => this.settle("approval"));
  }
}

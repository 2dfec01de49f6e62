import type { Run } from "../domain/index.js";
import { FileRunStore } from "../store/file.js";
import type { Fence, WriteOutcome } from "../store/run-store.js";

/**
 * The file store of a repository's runs, seen by one run's process: it tells the terminal view
 * about every save of that run, and lists only that run as active, so resuming (or the
 * monitor's revival) never starts effects of another unfinished run of the same repository.
 */
export class WatchedRunStore extends FileRunStore {
  constructor(
    root: string,
    private readonly runId: string,
    private readonly onSaved: (run: Run) => void,
  ) {
    super(root);
  }

  override async save(run: Run, _fence?: Fence): Promise<WriteOutcome> {
    const outcome = await super.save(run);
    if (outcome === "written" && run.id === this.runId) this.onSaved(run);
    return outcome;
  }

  override async listActiveRuns(): Promise<string[]> {
    return (await super.listActiveRuns()).filter((id) => id === this.runId);
  }
}

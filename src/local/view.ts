import type { JobProgress, Run } from "../domain/index.js";

/** What the terminal shows of a run while it works; plain lines or the live view. */
export interface RunView {
  /** The notes after every save. */
  run(run: Run): void;
  /** A job's progress after each of its turns. */
  progress(progress: JobProgress): void;
  /** A line of its own (the local pull request, a note about stopping). */
  note(text: string): void;
  /** The run stopped (finished, interrupted, or waiting): the last stage ends; resolves once the terminal is free. */
  close(): Promise<void>;
}

/**
 * The file store's run lock in a process of its own, so a test can SIGKILL the holder — and run
 * it as PID 1 of a fresh pid namespace, as node runs in the Docker image:
 * `node --import tsx test/kit/lock-child.ts <stateDir> <runId> hold|take`.
 *
 * `hold` takes the run's lock through the app's own `FileRunStore`, prints `holding <pid>` and
 * never lets go. `take` takes it, prints `took <pid> <ms>` (how long the taking waited) and exits.
 * A lock it cannot take ends the process with exit code 1 and the reason on stderr.
 */
import { FileRunStore } from "../../src/store/file.js";

const [stateDir, runId, mode] = process.argv.slice(2);
if (!stateDir || !runId || (mode !== "hold" && mode !== "take")) {
  throw new Error("usage: lock-child.ts <stateDir> <runId> hold|take");
}
const store = new FileRunStore(stateDir);
const started = performance.now();
try {
  await store.withRunLock(runId, async () => {
    const waitedMs = Math.round(performance.now() - started);
    if (mode === "take") {
      process.stdout.write(`took ${process.pid} ${waitedMs}\n`);
      return;
    }
    process.stdout.write(`holding ${process.pid}\n`);
    // Held until the test kills this process: a timer keeps the event loop alive.
    await new Promise(() => setInterval(() => undefined, 60_000));
  });
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

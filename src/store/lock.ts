import { open, readFile, unlink, mkdir } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * A cross-process lock file holding the owner's pid. A lock whose owner is dead is taken over;
 * a lock held by a live process makes the caller wait (polling), so two processes never
 * interleave writes to one run.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts = { pollMs: 25, timeoutMs: 30_000 }): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const started = Date.now();
  for (;;) {
    if (await tryAcquire(path)) break;
    if (Date.now() - started > opts.timeoutMs) throw new Error(`lock ${path} held by another live process for ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

async function tryAcquire(path: string): Promise<boolean> {
  try {
    const handle = await open(path, "wx");
    await handle.writeFile(String(process.pid));
    await handle.sync();
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
  if (owner && owner !== process.pid && !isAlive(owner)) {
    await unlink(path).catch(() => undefined);
  }
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

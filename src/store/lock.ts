import { link, mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
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

/**
 * The lock appears with its owner's pid already in it: the pid is written to a private temp
 * file, then hard-linked into place (atomic; EEXIST means held). A kill between create and
 * write can no longer leave an empty lock that nobody can prove stale.
 */
async function tryAcquire(path: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  const handle = await open(tmp, "wx");
  try {
    await handle.writeFile(String(process.pid));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
  // An empty lock can only be left by an older writer killed mid-write; one nobody owns is stale.
  if ((owner && owner !== process.pid && !isAlive(owner)) || (!owner && (await ageMs(path)) > 5_000)) {
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

async function ageMs(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  return info ? Date.now() - info.mtimeMs : 0;
}

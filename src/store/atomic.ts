import { statSync } from "node:fs";
import { open, readFile, rename, mkdir } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";

/** Write a file so that a crash leaves either the old or the new content, never a torn one. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const file = await open(tmp, "w");
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  await syncDir(dir);
}

/** Append one line and fsync before returning: the journal is the record of what happened. */
export async function appendLineDurably(path: string, line: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const file = await open(path, "a");
  try {
    await file.appendFile(line.endsWith("\n") ? line : `${line}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await syncDir(dir);
}

/** A rename or a new entry is durable only once its directory is synced. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A file's text, or undefined when it does not exist. Absence is asked with a synchronous `stat`
 * first: on a local disk it costs a few microseconds, where a failed asynchronous read costs some
 * 80 µs of CPU (a thread-pool hop, then an Error with its stack). The webhook intake asks about
 * absent files (an issue with no run, a PR with no index entry) while GitHub waits for the
 * answer. A file removed between the two calls still reads as absent; any other error (a
 * permission, a file where a folder should be) is thrown, never taken for absence.
 */
export async function readIfPresent(path: string): Promise<string | undefined> {
  if (!isPresent(path)) return undefined;
  return readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
}

/** Whether `path` exists: false only when it does not (ENOENT); other errors are thrown. */
export function isPresent(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

import { open, rename, mkdir } from "node:fs/promises";
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


import { link, lstat, mkdir, open, readFile, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { z } from "zod";

/**
 * A cross-process lock file naming its owner: pid, the owner's start time and the boot it ran in.
 * A lock whose owner no longer exists is taken over; a lock held by a live process makes the
 * caller wait (polling), so two processes never interleave writes to one run. A pid alone does
 * not name a process: in a container node is PID 1 on every start, so a lock left by a SIGKILL
 * would name "us" forever. Pid plus start time plus boot id does. Owners are looked up in our own
 * /proc: the file store belongs to one machine and one pid namespace (replicas use Redis).
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts = { pollMs: 25, timeoutMs: 30_000 }): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const mine = JSON.stringify({ ...(await thisProcess()), token: randomBytes(8).toString("hex") } satisfies LockOwner);
  const started = Date.now();
  for (;;) {
    const attempt = await tryAcquire(path, mine);
    if (attempt === "taken") break;
    if (Date.now() - started > opts.timeoutMs) throw new Error(`lock ${path} held by another live process for ${opts.timeoutMs} ms`);
    // A stale lock that just went is tried again at once; a held one is polled.
    if (attempt === "held") await new Promise((r) => setTimeout(r, opts.pollMs));
  }
  try {
    return await fn();
  } finally {
    // Only our own lock is removed: never one that someone else holds.
    const now = await readFile(path, "utf8").catch(() => undefined);
    if (now === undefined || now === mine) await unlink(path).catch(() => undefined);
  }
}

const LockOwnerSchema = z.object({
  pid: z.number().int().positive(),
  /** `/proc/sys/kernel/random/boot_id`; "" where there is no /proc. */
  boot: z.string(),
  /** Field 22 of `/proc/<pid>/stat` (clock ticks after boot); "" where there is no /proc. */
  start: z.string(),
  /** Tells one holding from the next, so a holder removes only its own lock. */
  token: z.string(),
});
type LockOwner = z.infer<typeof LockOwnerSchema>;

/** Older than this, a lock with no readable owner cannot belong to a writer that is still writing it. */
const ownerlessStaleMs = 5_000;

/**
 * The lock appears with its owner already in it: the owner is written to a private temp file,
 * then hard-linked into place (atomic; EEXIST means held). A kill between create and write can
 * no longer leave an empty lock that nobody can prove stale.
 */
async function tryAcquire(path: string, mine: string): Promise<"taken" | "held" | "broken"> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  const handle = await open(tmp, "wx");
  try {
    await handle.writeFile(mine);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, path);
    return "taken";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const held = await readLock(path);
  if (!held) return "broken"; // released between our link and our read
  if (!(await isStale(held))) return "held";
  // Remove only the very lock judged stale: another waiter may have broken it and taken a fresh one since.
  const again = await readLock(path);
  if (again?.ino !== held.ino || again.text !== held.text) return "held";
  return unlink(path).then(
    () => "broken",
    () => "held",
  );
}

interface HeldLock {
  text: string;
  ino: number;
  ageMs: number;
}

async function readLock(path: string): Promise<HeldLock | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), lstat(path)]);
    return { text, ino: info.ino, ageMs: Date.now() - info.mtimeMs };
  } catch {
    return undefined;
  }
}

async function isStale(held: HeldLock): Promise<boolean> {
  const owner = parseOwner(held.text);
  // Empty, torn, or an older version's bare pid: nothing proves who holds it, so only age can tell.
  if (!owner) return held.ageMs > ownerlessStaleMs;
  const here = await thisProcess();
  if (!here.start) return owner.pid !== process.pid && !isAlive(owner.pid); // no /proc: the pid is all there is
  if (owner.boot !== here.boot) return true; // pids and start times of another boot name nobody now
  // Our own pid is looked up like any other: a match is this process (another call holds it), a mismatch an earlier life.
  return (await startTimeOf(owner.pid)) !== owner.start;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const parsed = LockOwnerSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

let identity: Promise<Omit<LockOwner, "token">> | undefined;

/** Who we are, read once: the same reading our lock records and other processes compare against. */
function thisProcess(): Promise<Omit<LockOwner, "token">> {
  identity ??= (async () => ({
    pid: process.pid,
    boot: (await readFile("/proc/sys/kernel/random/boot_id", "utf8").catch(() => "")).trim(),
    start: (await startTimeOf(process.pid)) ?? "",
  }))();
  return identity;
}

/**
 * A live process's start time, or undefined when no such process is running. Read through
 * `/proc/<pid>`, never `/proc/self`, so our own lock and our check of it agree. A zombie is dead.
 */
async function startTimeOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses; fields after its last ")" are plain.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [state, start] = [fields[0], fields[19]];
  return state === "Z" || state === "X" ? undefined : start;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

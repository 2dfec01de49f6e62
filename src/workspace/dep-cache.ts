import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { CachedDir } from "./detect.js";
import type { RepoName } from "./types.js";

const execFileAsync = promisify(execFile);

/**
 * Installed dependencies, kept per repository and keyed by what decides them (lock files, the
 * install command, toolchain versions). An entry is filled once by a setup command that writes
 * straight into it (through a writable bind in the sandbox), then only ever shown read-only:
 * a warm run mounts it in place, so restoring costs no copy and no network. Entries appear by
 * an atomic rename, so a crash mid-install leaves only a staging directory, removed later.
 */

export interface CacheEntry {
  path: string;
  /** Each cached directory: where it is shown in the sandbox and where it lives here. */
  dirs: (CachedDir & { source: string })[];
}

interface Meta {
  key: string;
  created: string;
  install: string;
  bytes: number;
  dirs: CachedDir[];
}

/** An entry used this recently may be mounted by a running job: never evicted. */
const IN_USE_MS = 60 * 60 * 1000;
/** Staging directories older than this belong to a crashed install. */
const STALE_STAGING_MS = 6 * 60 * 60 * 1000;

export class DependencyCache {
  readonly dir: string;
  private readonly maxBytes: number;

  constructor(opts: { dir: string; maxBytes: number }) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
  }

  private repoDir(repo: RepoName): string {
    return join(this.dir, repo.owner, repo.name);
  }

  /** The entry for `key`, marked as used now; undefined on a miss. */
  async lookup(repo: RepoName, key: string): Promise<CacheEntry | undefined> {
    const path = join(this.repoDir(repo), key);
    const meta = await readMeta(path);
    if (!meta) return undefined;
    const now = new Date();
    await utimes(join(path, "meta.json"), now, now).catch(() => undefined);
    return entryOf(path, meta.dirs);
  }

  /** A fresh staging entry with one empty directory per cached dir, for setup to fill. */
  async stage(repo: RepoName, dirs: readonly CachedDir[]): Promise<CacheEntry> {
    const path = join(this.repoDir(repo), `.staging-${Date.now()}-${randomBytes(4).toString("hex")}`);
    const entry = entryOf(path, dirs);
    for (const d of entry.dirs) await mkdir(d.source, { recursive: true });
    return entry;
  }

  /** Makes a filled staging entry the entry for `key` (a concurrent twin wins quietly), then evicts. */
  async commit(repo: RepoName, staging: CacheEntry, key: string, install: string): Promise<CacheEntry> {
    for (const d of staging.dirs) {
      // Scratch mount points must exist in the read-only entry.
      for (const s of d.scratch ?? []) await mkdir(join(d.source, s), { recursive: true }).catch(() => undefined);
    }
    const meta: Meta = { key, created: new Date().toISOString(), install, bytes: await diskUsage(staging.path), dirs: staging.dirs.map(({ target, scratch }) => ({ target, ...(scratch && { scratch }) })) };
    await writeFile(join(staging.path, "meta.json"), JSON.stringify(meta));
    const final = join(this.repoDir(repo), key);
    try {
      await rename(staging.path, final);
    } catch (error) {
      // Another job filled the same key first (rename refuses a non-empty target): use theirs.
      if (!existsSync(join(final, "meta.json"))) throw error;
      await this.discard(staging);
    }
    await this.evict(final);
    return entryOf(final, meta.dirs);
  }

  async discard(staging: CacheEntry): Promise<void> {
    await rm(staging.path, { recursive: true, force: true });
  }

  /** Least recently used entries go until the cache fits; `keep` and entries in use stay. */
  async evict(keep?: string): Promise<void> {
    const entries: { path: string; bytes: number; used: number }[] = [];
    for (const owner of await list(this.dir)) {
      for (const name of await list(join(this.dir, owner))) {
        const repoDir = join(this.dir, owner, name);
        for (const key of await list(repoDir)) {
          const path = join(repoDir, key);
          if (key.startsWith(".staging-")) {
            const info = await stat(path).catch(() => undefined);
            if (info && Date.now() - info.mtimeMs > STALE_STAGING_MS) await rm(path, { recursive: true, force: true });
            continue;
          }
          const meta = await readMeta(path);
          const info = await stat(join(path, "meta.json")).catch(() => undefined);
          if (meta && info) entries.push({ path, bytes: meta.bytes, used: info.mtimeMs });
        }
      }
    }
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    for (const e of entries.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      if (e.path === keep || Date.now() - e.used < IN_USE_MS) continue;
      // Renamed away first, so a lookup never sees a half-deleted entry.
      const doomed = `${e.path}.evicted-${randomBytes(4).toString("hex")}`;
      await rename(e.path, doomed).catch(() => undefined);
      await rm(doomed, { recursive: true, force: true });
      total -= e.bytes;
    }
  }
}

function entryOf(path: string, dirs: readonly CachedDir[]): CacheEntry {
  return { path, dirs: dirs.map((d, i) => ({ ...d, source: join(path, `d${i}`) })) };
}

async function readMeta(path: string): Promise<Meta | undefined> {
  try {
    return JSON.parse(await readFile(join(path, "meta.json"), "utf8")) as Meta;
  } catch {
    return undefined;
  }
}

async function list(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Bytes on disk, hard links counted once (`du` knows how). */
async function diskUsage(path: string): Promise<number> {
  try {
    const { stdout } = await execFileAsync("du", ["-sk", path]);
    return Number(stdout.split(/\s/)[0]) * 1024;
  } catch {
    return 0;
  }
}

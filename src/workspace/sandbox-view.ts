import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { SandboxMount } from "./types.js";

/**
 * What a sandboxed command sees of the host: an allowlist, never `/` with holes. The system's
 * programs and libraries read-only, a handful of harmless files of `/etc`, the Node.js that runs
 * Shopfloor, the operator's extra toolchains, the worktree read-write and the mounts a job asks
 * for. Everything else — the app's own directory and `.env`, its state and work folders, `/home`,
 * `/root`, `/run`, `/var/run` and their sockets, `/sys` — simply does not exist inside.
 */

/** Top-level system directories (merged-/usr systems make most of them symlinks). */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
/**
 * Files of /etc that programs need to start and that hold nothing of the host's: users and
 * groups (names only; no shadow), the dynamic linker's cache, CA certificates for TLS through the
 * proxy, Debian's alternatives symlinks, time zone and OS identity. No npmrc, pip.conf or gitconfig:
 * an operator's registry credentials reach setup commands only through `SHOPFLOOR_SETUP_ENV_*`.
 */
const ETC_ENTRIES = [
  "passwd",
  "group",
  "hosts",
  "nsswitch.conf",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "ssl",
  "ca-certificates",
  "ca-certificates.conf",
  "alternatives",
  "localtime",
  "timezone",
  "os-release",
  "debian_version",
  "mime.types",
  "protocols",
  "services",
  "gai.conf",
  "host.conf",
];
/** Python's per-version config under /etc (Debian's sitecustomize and the like). */
const ETC_PATTERNS = [/^python3(\.\d+)?$/];

export interface ViewOptions {
  /** The worktree, bound read-write at its own path (its `.git` read-only). */
  cwd: string;
  mounts: readonly SandboxMount[];
  /** Extra read-only host paths (SHOPFLOOR_SANDBOX_PATHS): toolchains outside /usr. */
  toolchains: readonly string[];
  /** Host dir → sandbox dir, for the proxy's socket and the bridge. */
  run?: { source: string; target: string };
}

export function viewArgs(opts: ViewOptions): string[] {
  const args = ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var", "--tmpfs", "/var/tmp"];
  for (const dir of SYSTEM_DIRS) args.push(...showPath(dir));
  args.push("--dir", "/etc");
  for (const entry of etcEntries()) args.push(...showPath(join("/etc", entry)));
  for (const dir of [nodePrefix(), ...opts.toolchains]) {
    if (dir && !SYSTEM_DIRS.some((s) => dir === s || dir.startsWith(`${s}/`))) args.push(...showPath(dir));
  }

  args.push("--bind", opts.cwd, opts.cwd);
  const dotGit = join(opts.cwd, ".git");
  if (existsSync(dotGit)) {
    args.push("--ro-bind", dotGit, dotGit);
    // The mirror a worktree belongs to, read-only, so `git diff` and `git log` work inside.
    const common = gitCommonDir(dotGit);
    if (common && common !== dotGit) args.push("--ro-bind", common, common);
  }
  for (const m of opts.mounts) {
    const target = isAbsolute(m.target) ? m.target : resolve(opts.cwd, m.target);
    if (m.mode === "tmpfs") args.push("--tmpfs", target);
    else args.push(m.mode === "rw" ? "--bind" : "--ro-bind", m.source, target);
  }
  if (opts.run) args.push("--bind", opts.run.source, opts.run.target);
  // The root itself (a tmpfs bwrap made) is read-only once everything is mounted on it.
  args.push("--remount-ro", "/");
  return args;
}

/** A directory or file at its own path; a symlink (e.g. `/bin -> usr/bin`) as the same symlink. */
function showPath(path: string): string[] {
  let info;
  try {
    info = lstatSync(path);
  } catch {
    return [];
  }
  if (info.isSymbolicLink()) return ["--symlink", readlinkSync(path), path];
  return ["--ro-bind", path, path];
}

let etcCache: string[] | undefined;
function etcEntries(): string[] {
  if (etcCache) return etcCache;
  let names: string[] = [];
  try {
    names = readdirSync("/etc");
  } catch {
    // No /etc to show.
  }
  etcCache = names.filter((n) => ETC_ENTRIES.includes(n) || ETC_PATTERNS.some((p) => p.test(n))).sort();
  return etcCache;
}

/** The installation of the Node.js running Shopfloor (`<prefix>/bin/node`), for the bridge and CLIs. */
function nodePrefix(): string | undefined {
  try {
    return dirname(dirname(realpathSync(process.execPath)));
  } catch {
    return undefined;
  }
}

/** For a worktree's `.git` file (`gitdir: <mirror>/worktrees/<id>`), the mirror it belongs to. */
function gitCommonDir(dotGit: string): string | null {
  try {
    if (!statSync(dotGit).isFile()) return null;
    const gitdir = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, "utf8"))?.[1]?.trim();
    if (!gitdir) return null;
    const dir = resolve(dirname(dotGit), gitdir);
    const common = readFileSync(join(dir, "commondir"), "utf8").trim();
    const path = resolve(dir, common);
    return existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

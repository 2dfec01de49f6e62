import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CacheEntry, DependencyCache } from "./dep-cache.js";
import { detectEcosystems, detectedInstall, detectedTest, type Ecosystem } from "./detect.js";
import type { Workspace } from "./workspace.js";
import type { SandboxMount, SandboxOutcome, SandboxRequest } from "./types.js";

/**
 * The setup phase: before a worker or scrutiny runs, the repository's dependencies are installed
 * — by `commands.install`, or by what its lock files call for — with network only to the package
 * registries (through the allowlisting proxy), and kept in the dependency cache. Every command
 * after it sees them read-only and has no network at all.
 */

/** What a job says about setup, from the repository's config. */
export interface SetupSpec {
  /** `commands.install`: undefined means "detect", "" means "nothing to install". */
  install?: string;
  /** `network.allow`: hosts setup may reach besides the detected registries. */
  allow: readonly string[];
}

export interface SetupDeps {
  workspace: Workspace;
  cache: DependencyCache;
  sandbox(request: SandboxRequest): Promise<SandboxOutcome>;
  /** SHOPFLOOR_EGRESS_ALLOW: hosts the operator lets every setup reach. */
  egressAllow: readonly string[];
  /** SHOPFLOOR_SETUP_ENV_<NAME> as NAME → value: for setup commands only. */
  setupEnv: Readonly<Record<string, string>>;
  commandTimeoutMs: number;
  maxOutputBytes: number;
}

export interface InstallStep {
  cmd: string;
  exitCode: number;
  ms: number;
  timedOut: boolean;
  /** Unredacted: the caller redacts before it leaves the runner. */
  output: string;
  /** Restored from the dependency cache, not run. */
  restored: boolean;
}

export interface PreparedEnvironment {
  ok: boolean;
  /** Absent when there is nothing to install. */
  install?: InstallStep;
  /** The dependency cache, read-only, for every later command in this job. */
  mounts: SandboxMount[];
  env: Record<string, string>;
  /** The test command to use when the repository sets none. */
  test?: string;
}

const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const toolchains = new Map<string, Promise<string>>();

export async function prepareEnvironment(
  deps: SetupDeps,
  job: { repo: { owner: string; name: string; installationId: number }; sha: string; baseSha?: string; worktree: string; signal?: AbortSignal },
  spec: SetupSpec,
): Promise<PreparedEnvironment> {
  const { workspace } = deps;
  const root = await workspace.rootNames(job.repo, job.sha);
  const ecosystems = await detectEcosystems({ root, read: (path) => workspace.readFileAt(job.repo, job.sha, path) });
  const install = spec.install ?? detectedInstall(ecosystems);
  const test = detectedTest(ecosystems);
  const env = environmentOf(ecosystems);
  const done = (rest: Omit<PreparedEnvironment, "env" | "test">): PreparedEnvironment => ({
    ...rest,
    env: { ...env, ...offlineOf(ecosystems) },
    ...(test !== undefined && { test }),
  });
  if (install.trim() === "") return done({ ok: true, mounts: [] });

  const dirs = ecosystems.flatMap((e) => e.dirs);
  const keyFiles = [...new Set(ecosystems.flatMap((e) => e.keyFiles))].sort();
  const blobs = await workspace.blobIds(job.repo, job.sha, keyFiles);
  const changed = await changedSinceBase(deps, job, keyFiles, blobs);
  const trusted = changed.length === 0;
  const allow = [...new Set([...ecosystems.flatMap((e) => e.registries), ...spec.allow, ...deps.egressAllow])];
  const run = (cwd: string, mounts: SandboxMount[]) =>
    deps.sandbox({
      cwd,
      command: install,
      timeoutMs: deps.commandTimeoutMs,
      maxOutputBytes: deps.maxOutputBytes,
      env: { ...env, ...(trusted ? deps.setupEnv : {}) },
      mounts,
      network: { kind: "egress", allow },
      ...(job.signal && { signal: job.signal }),
    });
  const withheld = !trusted && Object.keys(deps.setupEnv).length > 0 ? `[shopfloor] setup secrets withheld: this run changed ${changed.join(", ")}\n` : "";

  if (dirs.length === 0) {
    // An install the cache cannot hold (a custom command for no known ecosystem): it runs in the
    // job's own worktree every time.
    const outcome = await run(job.worktree, []);
    return done({ ok: outcome.exitCode === 0, install: stepOf(install, outcome, withheld), mounts: [] });
  }

  const versions = await toolchainVersions(deps, ecosystems);
  const key = createHash("sha256").update(JSON.stringify({ install, dirs, versions, blobs })).digest("hex").slice(0, 32);
  const cached = await deps.cache.lookup(job.repo, key);
  if (cached) {
    return done({ ok: true, install: { cmd: install, exitCode: 0, ms: 0, timedOut: false, output: `restored from the dependency cache (${key.slice(0, 12)})\n`, restored: true }, mounts: mountsOf(cached, "ro") });
  }

  const staging = await deps.cache.stage(job.repo, dirs);
  // A worktree of its own: whatever else the install writes (build output, caches) is thrown away.
  const setupTree = await workspace.addWorktree(job.repo, job.sha, `setup-${key.slice(0, 12)}-${process.pid}-${Date.now()}`);
  try {
    const outcome = await run(setupTree, mountsOf(staging, "rw"));
    if (outcome.exitCode !== 0) {
      await deps.cache.discard(staging);
      return done({ ok: false, install: stepOf(install, outcome, withheld), mounts: [] });
    }
    const leaked = trusted ? await leakedSecret(staging.path, Object.values(deps.setupEnv)) : undefined;
    if (leaked) {
      await deps.cache.discard(staging);
      const note = `[shopfloor] the install wrote a setup secret into ${leaked}; nothing was kept\n`;
      return done({ ok: false, install: stepOf(install, { ...outcome, exitCode: 1 }, withheld + note), mounts: [] });
    }
    const entry = await deps.cache.commit(job.repo, staging, key, install);
    return done({ ok: true, install: stepOf(install, outcome, withheld), mounts: mountsOf(entry, "ro") });
  } catch (error) {
    await deps.cache.discard(staging);
    throw error;
  } finally {
    await workspace.removeWorktree(setupTree);
  }
}

function stepOf(cmd: string, o: SandboxOutcome, note: string): InstallStep {
  return { cmd, exitCode: o.exitCode, ms: o.ms, timedOut: o.timedOut, output: note + o.output, restored: false };
}

function mountsOf(entry: CacheEntry, mode: "ro" | "rw"): SandboxMount[] {
  const mounts: SandboxMount[] = [];
  for (const d of entry.dirs) {
    mounts.push({ source: d.source, target: d.target, mode });
    if (mode === "ro") for (const s of d.scratch ?? []) mounts.push({ target: join(d.target, s), mode: "tmpfs" });
  }
  return mounts;
}

/** Setup and later commands: the ecosystems' variables, PATH led by their bin directories. */
function environmentOf(ecosystems: readonly Ecosystem[]): Record<string, string> {
  const env: Record<string, string> = {};
  const prefixes: string[] = [];
  for (const e of ecosystems) {
    for (const [name, value] of Object.entries(e.env)) {
      if (name === "PATH_PREFIX") prefixes.push(value);
      else env[name] = value;
    }
  }
  if (prefixes.length > 0) env.PATH = [...prefixes, SANDBOX_PATH].join(":");
  return env;
}

function offlineOf(ecosystems: readonly Ecosystem[]): Record<string, string> {
  return Object.assign({}, ...ecosystems.map((e) => e.offlineEnv)) as Record<string, string>;
}

/**
 * Setup secrets go only to an install of the lock files the default branch has: a run that
 * changed them (a compromised model adding a package whose install script reads the token)
 * installs without them.
 */
async function changedSinceBase(deps: SetupDeps, job: { repo: { owner: string; name: string }; sha: string; baseSha?: string }, files: string[], blobs: Record<string, string>): Promise<string[]> {
  if (!job.baseSha || job.baseSha === job.sha) return [];
  const base = await deps.workspace.blobIds(job.repo, job.baseSha, files);
  return files.filter((f) => base[f] !== blobs[f]);
}

/** Each ecosystem's toolchain versions, asked inside the sandbox once per process. */
async function toolchainVersions(deps: SetupDeps, ecosystems: readonly Ecosystem[]): Promise<string[]> {
  return Promise.all(
    [...new Set(ecosystems.map((e) => e.toolchain))].map((cmd) => {
      let known = toolchains.get(cmd);
      if (!known) {
        known = (async () => {
          const cwd = await mkdtemp(join(tmpdir(), "shopfloor-toolchain-"));
          try {
            const o = await deps.sandbox({ cwd, command: cmd, timeoutMs: 30_000, maxOutputBytes: 4096 });
            return `${cmd}=${o.exitCode}:${o.output.trim()}`;
          } finally {
            await rm(cwd, { recursive: true, force: true });
          }
        })();
        toolchains.set(cmd, known);
        known.catch(() => toolchains.delete(cmd));
      }
      return known;
    }),
  );
}

/** The first installed file holding a setup secret's value, if any (grep: fixed strings). */
async function leakedSecret(dir: string, values: readonly string[]): Promise<string | undefined> {
  const needles = values.filter((v) => v.length >= 8);
  if (needles.length === 0) return undefined;
  return new Promise((done) => {
    const args = ["-rlF", "--binary-files=text", ...needles.flatMap((n) => ["-e", n]), dir];
    execFile("grep", args, { maxBuffer: 1024 * 1024 }, (_error, stdout) => {
      const first = stdout.split("\n").find(Boolean);
      done(first ? first.slice(dir.length + 1) : undefined);
    });
  });
}


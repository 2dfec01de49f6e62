/**
 * The setup phase, cold vs warm. A project whose npm lock file names about 300 packages (30 tops,
 * each depending on 9 of 270 leaves; a tenth of that with --quick) from a loopback registry is
 * set up with fresh dependency caches (cold: `npm ci` through the egress proxy in the sandbox),
 * then again in new worktrees at the same commit (warm: restored from the cache, no tarball
 * fetched, and the restored packages load). Goal: warm at most a tenth of cold (medians).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { makeOriginRepo } from "../test/kit/git-server.js";
import { npmProject, startNpmRegistry, type KitPackage, type NpmRegistry } from "../test/kit/npm-registry.js";
import { DependencyCache } from "../src/workspace/dep-cache.js";
import { runSandboxed } from "../src/workspace/sandbox.js";
import { prepareEnvironment, type SetupDeps } from "../src/workspace/setup.js";
import { Workspace } from "../src/workspace/workspace.js";
import { defineBench, median, ratioRow, round } from "./kit/figure.js";

const GOAL_RATIO = 0.1;
const LEAVES_PER_TOP = 9;
const repo = { owner: "bench", name: "setup", installationId: 1 };

/** Leaves, and tops that each require their leaves, so loading one top proves its leaves are there. */
function packages(tops: number): KitPackage[] {
  const leaves: KitPackage[] = Array.from({ length: tops * LEAVES_PER_TOP }, (_, j) => ({ name: `bench-leaf-${j}`, version: "1.0.0", files: { "index.js": `module.exports = ${j};\n` } }));
  const top = (i: number): KitPackage => {
    const mine = Array.from({ length: LEAVES_PER_TOP }, (_, k) => `bench-leaf-${i * LEAVES_PER_TOP + k}`);
    return {
      name: `bench-top-${i}`,
      version: "1.0.0",
      files: { "index.js": `module.exports = [${mine.map((m) => `require(${JSON.stringify(m)})`).join(", ")}];\n` },
      dependencies: Object.fromEntries(mine.map((m) => [m, "1.0.0"])),
    };
  };
  return [...leaves, ...Array.from({ length: tops }, (_, i) => top(i))];
}

/** One setup in a fresh worktree at `sha`: its time, and a failure if it did not do what it must. */
async function timedSetup(deps: SetupDeps, registry: NpmRegistry, sha: string, label: string, warm: boolean): Promise<number> {
  const worktree = await deps.workspace.addWorktree(repo, sha, label);
  try {
    const fetchedBefore = registry.tarballRequests();
    const started = performance.now();
    const env = await prepareEnvironment(deps, { repo, sha, worktree }, { allow: [] });
    const ms = performance.now() - started;
    if (!env.ok || env.install?.exitCode !== 0) throw new Error(`${label}: install failed (exit ${env.install?.exitCode ?? "none"}):\n${env.install?.output.slice(-2000) ?? ""}`);
    const fetched = registry.tarballRequests() - fetchedBefore;
    if (warm && (!env.install?.restored || fetched !== 0)) throw new Error(`${label}: not restored from the cache (restored ${env.install?.restored}, ${fetched} tarballs fetched)`);
    if (warm) {
      const check = await runSandboxed({ cwd: worktree, command: "node -e \"require('bench-top-0')\" && echo OK", timeoutMs: 60_000, maxOutputBytes: 65_536, mounts: env.mounts, env: env.env });
      if (check.exitCode !== 0 || !/^OK$/m.test(check.output)) throw new Error(`${label}: the restored packages do not load (exit ${check.exitCode}):\n${check.output.slice(-2000)}`);
    }
    return ms;
  } finally {
    await deps.workspace.removeWorktree(worktree);
  }
}

export default defineBench({
  title: "setup phase, cold and warm",
  async run({ quick, log }) {
    const tops = quick ? 10 : 30;
    const [coldRuns, warmRuns] = quick ? [1, 2] : [2, 3];
    const scratch = await mkdtemp("/var/tmp/bench-setup-");
    const registry = await startNpmRegistry({ packages: packages(tops) });
    try {
      const projectDir = join(scratch, "project");
      await mkdir(projectDir);
      const files = await npmProject(projectDir, registry, { name: "bench-setup", dependencies: Object.fromEntries(Array.from({ length: tops }, (_, i) => [`bench-top-${i}`, "1.0.0"])) });
      const locked = Object.keys((JSON.parse(files["package-lock.json"] ?? "{}") as { packages?: Record<string, unknown> }).packages ?? {}).length - 1;
      const originRoot = join(scratch, "origin");
      const sha = await makeOriginRepo(originRoot, repo.owner, repo.name, files);
      const workspace = new Workspace({ workDir: join(scratch, "work"), tokenFor: async () => "unused", remoteUrlFor: (r) => join(originRoot, r.owner, `${r.name}.git`) });
      await workspace.syncMirror(repo);
      const cold: number[] = [];
      const warm: number[] = [];
      for (let c = 0; c < coldRuns; c++) {
        const cache = new DependencyCache({ dir: join(scratch, `cache-${c}`), maxBytes: 2 * 1024 ** 3 });
        const deps: SetupDeps = { workspace, cache, sandbox: (req) => runSandboxed(req), egressAllow: [registry.host], setupEnv: {}, commandTimeoutMs: 600_000, maxOutputBytes: 1024 * 1024 };
        cold.push(await timedSetup(deps, registry, sha, `cold-${c}`, false));
        log(`cold ${c + 1}: ${round(cold.at(-1)!, 0)} ms`);
        // Warm runs restore from the last cold run's cache: one cache is enough to measure a restore.
        if (c < coldRuns - 1) continue;
        for (let w = 0; w < warmRuns; w++) {
          warm.push(await timedSetup(deps, registry, sha, `warm-${w}`, true));
          log(`warm ${w + 1}: ${round(warm.at(-1)!, 0)} ms`);
        }
      }
      const note = `npm lock file with ${locked} packages; medians of ${coldRuns} cold and ${warmRuns} warm setups`;
      return [
        { name: "setup, cold", value: round(median(cold), 0), unit: "ms", note },
        ratioRow({ name: "setup, warm", value: round(median(warm), 0), unit: "ms", anchor: { name: "cold", value: round(median(cold), 0) } }, GOAL_RATIO),
      ];
    } finally {
      await registry.close();
      await rm(scratch, { recursive: true, force: true });
    }
  },
});

/**
 * The setup phase, cold vs warm: `tsx bench/setup.ts [--json]`. A project whose npm lock file
 * names about 300 packages (30 tops, each depending on 9 of 270 leaves) from a loopback registry
 * is set up twice with fresh dependency caches (cold: `npm ci` through the egress proxy in the
 * sandbox) and three times more in new worktrees at the same commit (warm: restored from the
 * cache). Goal: warm at most a tenth of cold. Exits non-zero only if an install or the check of
 * the warm environment failed; missing the goal is printed, not failed.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeOriginRepo } from "../test/kit/git-server.js";
import { npmProject, startNpmRegistry, type KitPackage } from "../test/kit/npm-registry.js";
import { DependencyCache } from "../src/workspace/dep-cache.js";
import { runSandboxed } from "../src/workspace/sandbox.js";
import { prepareEnvironment, type PreparedEnvironment, type SetupDeps } from "../src/workspace/setup.js";
import { Workspace } from "../src/workspace/workspace.js";

// Other benchmarks' arguments (`--trials`) come through `npm run bench` too: ignore them.
const { values } = parseArgs({ options: { json: { type: "boolean", default: false } }, strict: false });
const json = values.json === true;

const TOPS = 30;
const LEAVES = 270;
const LEAVES_PER_TOP = 9;
const COLD_RUNS = 2;
const WARM_RUNS = 3;
/** The goal: a warm setup costs at most this share of a cold one. */
const GOAL_RATIO = 0.1;

const repo = { owner: "bench", name: "setup", installationId: 1 };

interface Sample {
  ms: number;
  tarballs: number;
  restored: boolean;
}

const scratch = await mkdtemp("/var/tmp/bench-setup-");
const registry = await startNpmRegistry({ packages: packages() });
const problems: string[] = [];
try {
  const projectDir = join(scratch, "project");
  const originRoot = join(scratch, "origin");
  await mkdir(projectDir);
  const dependencies = Object.fromEntries(Array.from({ length: TOPS }, (_, i) => [`bench-top-${i}`, "1.0.0"]));
  const files = await npmProject(projectDir, registry, { name: "bench-setup", dependencies });
  const locked = Object.keys((JSON.parse(files["package-lock.json"] ?? "{}") as { packages?: Record<string, unknown> }).packages ?? {}).filter((p) => p !== "").length;
  const sha = await makeOriginRepo(originRoot, repo.owner, repo.name, files);

  const workspace = new Workspace({
    workDir: join(scratch, "work"),
    tokenFor: async () => "unused",
    remoteUrlFor: (r) => join(originRoot, r.owner, `${r.name}.git`),
  });
  await workspace.syncMirror(repo);

  const cold: Sample[] = [];
  const warm: Sample[] = [];
  for (let c = 0; c < COLD_RUNS; c++) {
    const cache = new DependencyCache({ dir: join(scratch, `cache-${c}`), maxBytes: 2 * 1024 ** 3 });
    const deps: SetupDeps = {
      workspace,
      cache,
      sandbox: (req) => runSandboxed(req),
      egressAllow: [registry.host],
      setupEnv: {},
      commandTimeoutMs: 600_000,
      maxOutputBytes: 1024 * 1024,
    };
    const first = await timedSetup(deps, sha, `cold-${c}`);
    cold.push(first.sample);
    if (!first.ok) break;
    // Warm runs against the last cold run's cache only: one cache is enough to measure a restore.
    if (c < COLD_RUNS - 1) continue;
    for (let w = 0; w < WARM_RUNS; w++) {
      const next = await timedSetup(deps, sha, `warm-${w}`, w === WARM_RUNS - 1);
      warm.push(next.sample);
      if (!next.ok) break;
    }
  }

  const coldMs = median(cold.map((s) => s.ms));
  const warmMs = median(warm.map((s) => s.ms));
  const ratio = coldMs > 0 && warm.length > 0 ? warmMs / coldMs : Number.NaN;
  const met = problems.length === 0 && ratio <= GOAL_RATIO;

  console.log(`setup phase, npm lock file with ${locked} packages (${TOPS} top-level)`);
  console.log("run      wall ms  tarballs fetched  restored");
  for (const [label, list] of [["cold", cold], ["warm", warm]] as const) {
    list.forEach((s, i) => console.log(`${`${label} ${i + 1}`.padEnd(8)} ${s.ms.toFixed(0).padStart(7)}  ${String(s.tarballs).padStart(16)}  ${s.restored ? "yes" : "no"}`));
  }
  console.log(`median   cold ${coldMs.toFixed(0)} ms, warm ${warmMs.toFixed(0)} ms, warm/cold ${ratio.toFixed(3)}`);
  console.log(`goal: warm at most a tenth of cold (ratio <= ${GOAL_RATIO}): ${met ? "met" : "NOT met"}`);
  for (const p of problems) console.log(`problem: ${p}`);
  if (json) {
    console.log(
      JSON.stringify({
        bench: "setup",
        packages: locked,
        coldMs: cold.map((s) => Math.round(s.ms)),
        warmMs: warm.map((s) => Math.round(s.ms)),
        coldMedianMs: Math.round(coldMs),
        warmMedianMs: Math.round(warmMs),
        ratio: Number(ratio.toFixed(4)),
        goal: `warm <= ${GOAL_RATIO} * cold`,
        goalMet: met,
        warmTarballs: warm.reduce((n, s) => n + s.tarballs, 0),
        problems,
      }),
    );
  }
} finally {
  await registry.close();
  await rm(scratch, { recursive: true, force: true });
}
process.exitCode = problems.length === 0 ? 0 : 1;

/**
 * One prepareEnvironment in a new worktree at `sha`, timed, with the tarballs it fetched. With
 * `check`, also requires a top package (and so its leaves) in the prepared environment.
 */
async function timedSetup(deps: SetupDeps, sha: string, label: string, check = false): Promise<{ ok: boolean; sample: Sample }> {
  const worktree = await deps.workspace.addWorktree(repo, sha, label);
  try {
    const before = registry.tarballRequests();
    const started = performance.now();
    const env: PreparedEnvironment = await prepareEnvironment(deps, { repo, sha, worktree }, { allow: [] });
    const ms = performance.now() - started;
    const sample = { ms, tarballs: registry.tarballRequests() - before, restored: env.install?.restored === true };
    let ok = env.ok && env.install?.exitCode === 0;
    if (!ok) problems.push(`${label}: install failed (exit ${env.install?.exitCode ?? "none"}):\n${env.install?.output.slice(-2000) ?? ""}`);
    if (ok && label.startsWith("warm") && (!sample.restored || sample.tarballs !== 0)) {
      problems.push(`${label}: not restored from the cache (restored ${sample.restored}, ${sample.tarballs} tarballs fetched)`);
      ok = false;
    }
    if (ok && check) {
      const run = await runSandboxed({
        cwd: worktree,
        command: "node -e \"require('bench-top-0')\" && echo OK",
        timeoutMs: 60_000,
        maxOutputBytes: 65_536,
        mounts: env.mounts,
        env: env.env,
      });
      if (run.exitCode !== 0 || !/^OK$/m.test(run.output)) {
        problems.push(`${label}: the warm environment does not load bench-top-0 (exit ${run.exitCode}):\n${run.output.slice(-2000)}`);
        ok = false;
      }
    }
    return { ok, sample };
  } finally {
    await deps.workspace.removeWorktree(worktree);
  }
}

/** 270 leaves and 30 tops, each top requiring its 9 leaves so loading one proves they are there. */
function packages(): KitPackage[] {
  const leaves: KitPackage[] = Array.from({ length: LEAVES }, (_, j) => ({
    name: `bench-leaf-${j}`,
    version: "1.0.0",
    files: { "index.js": `module.exports = ${j};\n` },
  }));
  const tops: KitPackage[] = Array.from({ length: TOPS }, (_, i) => {
    const mine = Array.from({ length: LEAVES_PER_TOP }, (_, k) => `bench-leaf-${i * LEAVES_PER_TOP + k}`);
    return {
      name: `bench-top-${i}`,
      version: "1.0.0",
      files: { "index.js": `module.exports = [${mine.map((m) => `require(${JSON.stringify(m)})`).join(", ")}];\n` },
      dependencies: Object.fromEntries(mine.map((m) => [m, "1.0.0"])),
    };
  });
  return [...leaves, ...tops];
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

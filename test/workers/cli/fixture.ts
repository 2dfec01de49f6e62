import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { WorkerReport } from "../../../src/domain/index.js";

/** Shared setup for the CLI adapter tests: a real git repo, a job dir, a valid report. */

export function gitRepo(files: Record<string, string> = { "README.md": "# demo\n" }): string {
  const dir = mkdtempSync(path.join(tmpdir(), "shopfloor-cli-wt-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "ignore" });
  git("init", "-q");
  git("add", ".");
  git("-c", "user.name=kit", "-c", "user.email=kit@example.com", "commit", "-qm", "init");
  return dir;
}

/** Not under /tmp: Codex's sandbox refuses a CODEX_HOME there. */
export function jobDirPath(): string {
  return path.join(mkdtempSync("/var/tmp/shopfloor-cli-job-"), "job");
}

export function removeAll(dirs: string[]): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export const report: WorkerReport = {
  status: "ok",
  confidence: 0.9,
  summary: "Added hello.txt.",
  handoff: { completed: ["hello.txt written"], remaining: [], commands: [], issues: [], followedProcedure: true },
};

/** Live processes whose command line mentions `needle` (the job dir is in every CLI's argv). */
export function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes(needle)) found.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/** The environ of each live process whose command line mentions `needle`. */
export function environsMentioning(needle: string): string[] {
  return processesMentioning(needle).flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/environ`, "utf8")];
    } catch {
      return [];
    }
  });
}

/** Waits up to `ms` for every process mentioning `needle` to be gone; returns those still there. */
export async function processesLeft(needle: string, ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  let left = processesMentioning(needle);
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    left = processesMentioning(needle);
  }
  return left;
}

/** A loopback HTTP server that only counts what reaches it: a host the CLI must not reach. */
export async function startBystander(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits += 1;
    res.end("bystander\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A secret file outside the worktree, where a careless view of the host would show it. */
export function canaryFile(): { dir: string; file: string; content: string } {
  const dir = mkdtempSync("/var/tmp/shopfloor-cli-canary-");
  const content = `CANARY-${path.basename(dir)}`;
  const file = path.join(dir, "secret.txt");
  writeFileSync(file, content);
  return { dir, file, content };
}

/** An installed dependency as the setup phase leaves it: a cache dir with a package and a bin. */
export function installedDependency(): string {
  const dir = mkdtempSync("/var/tmp/shopfloor-cli-deps-");
  mkdirSync(path.join(dir, "kit-dep"));
  writeFileSync(path.join(dir, "kit-dep", "index.js"), "module.exports = 'KIT_DEP_INSTALLED';\n");
  mkdirSync(path.join(dir, ".bin"));
  writeFileSync(path.join(dir, ".bin", "kit-tool"), "#!/bin/sh\necho KIT_TOOL_RAN\n", { mode: 0o755 });
  return dir;
}

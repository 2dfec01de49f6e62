import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

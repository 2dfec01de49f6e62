import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeLocalRepo, type LocalRepo } from "../kit/local-repo.js";
import type { ModelServer } from "../kit/model-server.js";
import { afterEach } from "vitest";

const root = new URL("../..", import.meta.url).pathname;

/** A local repository holding `files` on `main`, with `.github/shopfloor.yml` when given. */
export async function localProject(files: Record<string, string>, configYaml?: string): Promise<LocalRepo> {
  const repo = await makeLocalRepo("shopfloor-run-");
  await repo.commit({ ...files, ...(configYaml !== undefined && { ".github/shopfloor.yml": configYaml }) }, "initial");
  return repo;
}

/** What `shopfloor run` needs from the environment: the scripted models' base URLs and keys, and fast retries. */
export function cliEnv(models: ModelServer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? tmpdir(),
    ANTHROPIC_BASE_URL: models.url,
    ANTHROPIC_API_KEY: "sk-ant-local-kit-key-never-leaks",
    OPENAI_BASE_URL: `${models.url}/v1`,
    OPENAI_API_KEY: "sk-openai-local-kit-key-never-leaks",
    SHOPFLOOR_COMMAND_TIMEOUT_MS: "60000",
    SHOPFLOOR_RETRY_BASE_MS: "50",
    ...extra,
  };
}

export interface Cli {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they came. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node --import tsx src/cli.ts <args>` as a person would run it, stdout not a terminal. */
export function runCli(args: string[], env: Record<string, string>): Cli {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "src/cli.ts"), ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.on("data", (b: Buffer) => (text += b.toString("utf8")));
  child.stderr!.on("data", (b: Buffer) => (text += b.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { child, output: () => text, exited };
}

/** The shopfloor/* branches of the repository. */
export async function runBranches(repo: LocalRepo): Promise<string[]> {
  return (await repo.git(["for-each-ref", "--format=%(refname:short)", "refs/heads/shopfloor/"])).split("\n").filter(Boolean);
}

/** The reports written under the repository's `.git/shopfloor/reports`. */
export async function reports(repo: LocalRepo): Promise<{ name: string; text: string }[]> {
  const dir = join(repo.dir, ".git", "shopfloor", "reports");
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".md"));
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), "utf8") })));
}

export async function scratchDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "shopfloor-run-scratch-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Polls `probe` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(probe: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!probe()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The task and branch of the farewell scenario the run tests build. */
export const farewellTask = "Add farewell(name)\n\nWe need `farewell(name)` in src/farewell.js returning `Goodbye, <name>!`.";
export const farewellBranch = "shopfloor/1-add-farewell-name";

/** The model server and repository of the test under way, closed and removed after each test. */
export function eachTest(): { models?: ModelServer; repo?: LocalRepo } {
  const current: { models?: ModelServer; repo?: LocalRepo } = {};
  afterEach(async () => {
    await current.models?.close();
    await current.repo?.remove();
    current.models = undefined;
    current.repo = undefined;
  });
  return current;
}

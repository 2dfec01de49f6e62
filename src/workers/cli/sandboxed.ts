import { realpathSync } from "node:fs";
import path from "node:path";
import { isFailure, type Failure } from "../../domain/index.js";
import { MODEL_PORT, prepareSandbox, sandboxAvailable, type PreparedSandbox, type SandboxMount } from "../../workspace/index.js";
import type { RoleName } from "../role-card.js";
import { packageBin, packageDirs, spawnCli, type CliExit } from "./process.js";
import type { CliAgentOptions } from "./types.js";

/**
 * A CLI agent inside Shopfloor's sandbox (DESIGN.md §2, "The sandbox shows an allowlist"): it
 * sees the system, the Node.js running Shopfloor, its own package read-only, the worktree
 * (read-only for a role that only reads), the job's dependency mounts and its scratch dir. Its
 * one way out is the model endpoint, through a host-side proxy that puts the real key on every
 * request: the CLI and every command it runs hold only a placeholder.
 */

/** What the CLI holds instead of the key; the model proxy drops it on the way out. */
export const PLACEHOLDER_KEY = "shopfloor-sandbox-placeholder";

/** Where the CLI finds node (`#!/usr/bin/env node`, npm scripts) and the system's programs. */
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The model endpoint as the CLI must call it. */
export interface ModelAccess {
  /** The base URL standing in for the upstream's: the CLI appends the same paths to it. */
  url: string;
  /** False only when the operator allowed running without bubblewrap (SHOPFLOOR_ALLOW_UNSANDBOXED). */
  sandboxed: boolean;
}

export interface SandboxedCli {
  /** For failure details: "claude", "codex". */
  name: string;
  /** The npm package and bin that run. */
  pkg: string;
  bin: string;
  /** The CLI's arguments and its own environment variables. */
  command(model: ModelAccess): { args: string[]; env: Record<string, string> };
  /** Set by the host-side proxy on every model request: the real credentials. */
  auth: Record<string, string>;
  onLine(line: string, stop: (reason: string) => void): void;
}

/** Runs the CLI in the sandbox until it exits, its time is up, `stop` is called or the job's signal aborts. */
export async function runInSandbox(opts: CliAgentOptions, cli: SandboxedCli): Promise<CliExit> {
  if (opts.signal?.aborted) return notRun({ aborted: true });
  const bin = packageBin(cli.pkg, cli.bin);
  const sandboxed = (await sandboxAvailable()).ok;
  const inside: ModelAccess = { url: `http://127.0.0.1:${MODEL_PORT}`, sandboxed };
  const planned = invocation(opts, cli, bin, inside);
  let box: PreparedSandbox;
  try {
    box = await prepareSandbox(
      {
        cwd: opts.worktree,
        argv: planned.argv,
        env: planned.env,
        mounts: mountsFor(opts, cli.pkg),
        // The path a CLI posts to (/v1/messages, /responses) is appended to the upstream's base URL.
        network: { kind: "model", upstream: opts.endpoint.baseUrl, headers: cli.auth },
      },
      { toolchains: opts.toolchains ?? [] },
    );
  } catch (error) {
    // No bubblewrap, and the operator did not allow running without it: nothing was started.
    return notRun({ spawnError: error instanceof Error ? error.message : String(error) });
  }
  try {
    // Without bubblewrap the proxy listens on a host port known only now: the command is rebuilt.
    const run = sandboxed || box.modelUrl === undefined ? planned : invocation(opts, cli, bin, { url: box.modelUrl, sandboxed });
    // `box.argv` ends with the planned command (after bwrap's own arguments, when there are any).
    const [program = bin, ...args] = [...box.argv.slice(0, box.argv.length - planned.argv.length), ...run.argv];
    const proc = spawnCli({
      bin: program,
      args,
      cwd: box.cwd,
      env: { ...box.env, ...run.env },
      timeoutMs: opts.timeoutMs,
      ...(opts.signal && { signal: opts.signal }),
      onLine: (line) => cli.onLine(line, (reason) => proc.stop(reason)),
    });
    return await proc.done;
  } finally {
    await box.close();
  }
}

/** Roles whose work is a change in the worktree; the others (planner, reviewer) only read it. */
export function writesWorktree(role: RoleName): boolean {
  return role === "generator" || role === "tester";
}

/**
 * The job's stop, as the built-in agent loop reports it: the monitor's own failure when it gave
 * one (a stall), else a transient timeout.
 */
export function stoppedFailure(signal: AbortSignal | undefined, name: string): Failure {
  const reason: unknown = signal?.reason;
  if (isFailure(reason)) return reason;
  const detail = reason instanceof Error ? reason.message : typeof reason === "string" ? reason : "aborted";
  return { class: "transient", reason: "timeout", detail: `${name} stopped: ${detail}` };
}

function invocation(opts: CliAgentOptions, cli: SandboxedCli, bin: string, model: ModelAccess): { argv: string[]; env: Record<string, string> } {
  const { args, env } = cli.command(model);
  // A script bin (Codex's launcher) runs on the Node.js that runs Shopfloor, which the sandbox shows.
  const launcher = /\.[cm]?js$/.test(bin) ? [realpathSync(process.execPath), bin] : [bin];
  return { argv: [...launcher, ...args], env: withJobEnv(opts.env, env) };
}

/**
 * The setup phase's variables (VIRTUAL_ENV, GOPATH…) under the CLI's own, which win; PATH is
 * both: the job's bin directories first, so the repo's tools are found, then node's and the system's.
 */
function withJobEnv(job: Readonly<Record<string, string>> = {}, cli: Record<string, string>): Record<string, string> {
  const nodeBin = path.dirname(realpathSync(process.execPath));
  const dirs = [job.PATH, cli.PATH, nodeBin, SYSTEM_PATH].flatMap((p) => p?.split(":") ?? []).filter(Boolean);
  return { ...job, ...cli, PATH: [...new Set(dirs)].join(":") };
}

function mountsFor(opts: CliAgentOptions, pkg: string): SandboxMount[] {
  const worktree = realpathSync(opts.worktree);
  return [
    // First, so the dependency mounts inside the worktree still go over it.
    ...(writesWorktree(opts.role) ? [] : [{ source: worktree, target: worktree, mode: "ro" as const }]),
    ...(opts.mounts ?? []),
    ...packageDirs(pkg).map((dir) => ({ source: dir, target: dir, mode: "ro" as const })),
    // HOME, TMPDIR, the CLI's config and state, the system prompt and schema files.
    { source: opts.jobDir, target: opts.jobDir, mode: "rw" },
  ];
}

function notRun(what: Pick<CliExit, "aborted" | "spawnError">): CliExit {
  return { exitCode: null, signal: null, timedOut: false, stderrTail: "", ms: 0, ...what };
}

export interface RepoName {
  owner: string;
  name: string;
}

/** Gives the runner a short-lived, repo-scoped token for git; never handed to an agent. */
export type GitTokenSource = (repo: RepoName & { installationId: number }) => Promise<string>;

export interface CommitOutcome {
  sha: string;
  filesChanged: string[];
  diffStat: string;
}

/**
 * Something shown inside the sandbox besides the system and the worktree: a directory of the
 * dependency cache (read-only for agents, writable for the setup command that fills it), or a
 * scratch tmpfs over a directory that tools insist on writing into (`node_modules/.cache`).
 * `target` is absolute, or relative to the worktree.
 */
export type SandboxMount = { source: string; target: string; mode: "ro" | "rw" } | { target: string; mode: "tmpfs" };

/**
 * The network a sandboxed command gets. Absent: none at all (loopback of its own only).
 * `egress`: HTTP(S)_PROXY through a host-side proxy that lets through only the allowed hosts
 * (the setup phase). `model`: one model endpoint at `http://127.0.0.1:${modelPort}`, reached through
 * a host-side proxy that adds the real credentials, so the key never enters the sandbox.
 */
export type SandboxNetwork =
  | { kind: "egress"; allow: readonly string[] }
  | { kind: "model"; upstream: string; headers: Record<string, string> };

export interface SandboxRequest {
  /** The worktree: the only writable place inside the sandbox. */
  cwd: string;
  /** A shell command line, run by `/bin/sh -c` inside the sandbox. */
  command: string;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Extra variables; the sandbox starts from an empty environment, never the runner's. */
  env?: Record<string, string>;
  mounts?: SandboxMount[];
  network?: SandboxNetwork;
  /** Ends the whole sandbox at once (a cancelled or stalled job). */
  signal?: AbortSignal;
}

export interface SandboxOutcome {
  exitCode: number;
  ms: number;
  output: string;
  timedOut: boolean;
  truncated: boolean;
  /** `signal` ended it. */
  aborted?: boolean;
}

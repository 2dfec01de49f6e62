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

export interface SandboxRequest {
  /** The worktree: the only writable place inside the sandbox. */
  cwd: string;
  /** A shell command line, run by `/bin/sh -c` inside the sandbox. */
  command: string;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Extra variables; the sandbox starts from an empty environment, never the runner's. */
  env?: Record<string, string>;
}

export interface SandboxOutcome {
  exitCode: number;
  ms: number;
  output: string;
  timedOut: boolean;
  truncated: boolean;
}

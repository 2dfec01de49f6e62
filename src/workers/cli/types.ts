import type { SandboxMount } from "../../workspace/index.js";
import type { RoleName } from "../role-card.js";

/** What a CLI agent adapter (Claude Code, Codex) needs to run one subtask in its worktree, in the sandbox. */
export interface CliAgentOptions {
  role: RoleName;
  /** The subtask's worktree: the CLI's working directory and, for a writing role, the only place it may write. */
  worktree: string;
  /**
   * Private scratch dir for this run (HOME, TMPDIR, the CLI's config and state), created if
   * missing, shown read-write in the sandbox at the same path, and removed afterwards. Codex
   * needs it outside /tmp: the caller puts it under Shopfloor's work dir.
   */
  jobDir: string;
  /** The role card's prompt (plus quoted repo notes), appended to the CLI's own system prompt. */
  system: string;
  task: string;
  model: string;
  /**
   * Shopfloor's endpoint for this provider, from its settings (never from the repo). The key
   * stays on the host: the sandbox's model proxy adds it to each request the CLI sends.
   */
  endpoint: { baseUrl: string; apiKey: string };
  /** Hard cap on model turns. */
  maxTurns: number;
  /** Wall-clock limit for the whole CLI run; past it the process group is killed. */
  timeoutMs: number;
  /** Command prefixes a writing role may run (e.g. "npm test"); none means no shell tool. */
  allowedCommands?: string[];
  onProgress?: (p: { turn: number; toolCalls: number; costUsd?: number; tokens?: number }) => void;
  /** Ends the run at once (`/cancel`, the monitor's stall stop): the CLI's whole process tree goes. */
  signal?: AbortSignal;
  /** From the setup phase: the installed dependencies, read-only, for the commands the CLI runs. */
  mounts?: readonly SandboxMount[];
  /** From the setup phase: PATH and the ecosystems' variables; the CLI's own variables win. */
  env?: Readonly<Record<string, string>>;
  /** Extra read-only host paths for toolchains outside /usr (SHOPFLOOR_SANDBOX_PATHS). */
  toolchains?: readonly string[];
}

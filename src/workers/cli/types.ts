import type { RoleName } from "../role-card.js";

/** What a CLI agent adapter (Claude Code, Codex) needs to run one subtask in its worktree. */
export interface CliAgentOptions {
  role: RoleName;
  /** The subtask's worktree: the CLI's working directory and the only place it may write. */
  worktree: string;
  /**
   * Private scratch dir for this run (HOME, TMPDIR, the CLI's config and state), created if
   * missing and removed afterwards. Codex needs it outside /tmp: the caller puts it under
   * Shopfloor's work dir.
   */
  jobDir: string;
  /** The role card's prompt (plus quoted repo notes), appended to the CLI's own system prompt. */
  system: string;
  task: string;
  model: string;
  /** Shopfloor's endpoint for this provider, from its settings (never from the repo). */
  endpoint: { baseUrl: string; apiKey: string };
  /** Hard cap on model turns. */
  maxTurns: number;
  /** Wall-clock limit for the whole CLI run; past it the process group is killed. */
  timeoutMs: number;
  /** Command prefixes a writing role may run (e.g. "npm test"); none means no shell tool. */
  allowedCommands?: string[];
  onProgress?: (p: { turn: number; toolCalls: number }) => void;
  /** Override the binary; default: the pinned devDependency's bin. */
  bin?: string;
}

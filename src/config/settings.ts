import { resolve } from "node:path";
import { z } from "zod";

/** Shopfloor's own settings, from the environment. Probot and the SDKs read theirs themselves. */
const SettingsSchema = z.object({
  /** Where run notes, journals and remembered deliveries live. */
  SHOPFLOOR_STATE_DIR: z.string().default(".shopfloor/state"),
  /** Where mirrors and worktrees live; needs room for a few checkouts per repo. */
  SHOPFLOOR_WORK_DIR: z.string().default(".shopfloor/work"),
  /** Jobs that run at once in this process. Each may run a model loop and `npm test`. */
  SHOPFLOOR_RUNNER_CONCURRENCY: z.coerce.number().int().positive().max(64).default(2),
  /** Jobs allowed to wait; past this, new jobs fail as transient instead of piling up. */
  SHOPFLOOR_RUNNER_MAX_QUEUED: z.coerce.number().int().positive().default(100),
  /** Attempts per job for transient failures. */
  SHOPFLOOR_MAX_ATTEMPTS: z.coerce.number().int().positive().max(10).default(3),
  /** First backoff of a transient retry; doubled per attempt, with jitter, capped at two minutes. */
  SHOPFLOOR_RETRY_BASE_MS: z.coerce.number().int().nonnegative().default(2_000),
  /** Wall time of one repo command (install, lint, test) in the sandbox. */
  SHOPFLOOR_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().default(10 * 60_000),
  /** How often the monitor sweeps for stalls and expired waits (no model call is ever made). */
  SHOPFLOOR_MONITOR_INTERVAL_MS: z.coerce.number().int().positive().default(30_000),
  /** Every how many sweeps GitHub is reconciled with the runs, the first sweep at start included (it costs API reads); 0 = never. */
  SHOPFLOOR_RECONCILE_EVERY: z.coerce.number().int().nonnegative().default(10),
  /** Days a finished run keeps its journal, full notes and worktrees: a month covers a late question about it; 0 keeps all forever. */
  SHOPFLOOR_RETENTION_DAYS: z.coerce.number().int().nonnegative().default(30),
  /** Where the role cards are. */
  SHOPFLOOR_AGENTS_DIR: z.string().optional(),
  /** Installed dependencies per repository; defaults to `cache/` in the work dir. */
  SHOPFLOOR_CACHE_DIR: z.string().optional(),
  /** The dependency cache's size; least recently used entries go first past it. */
  SHOPFLOOR_CACHE_MAX_GB: z.coerce.number().positive().default(10),
  /** Hosts every setup command may reach besides the package registries (comma or space separated). */
  SHOPFLOOR_EGRESS_ALLOW: z.string().default(""),
  /** Extra read-only paths shown in the sandbox: toolchains outside /usr (colon separated). */
  SHOPFLOOR_SANDBOX_PATHS: z.string().default(""),
  /** While a run works, its progress comment is edited at most this often (each edit is a rate-limited, notifying GitHub write; Mission Control shows the live state). Waiting and final states are written at once. */
  SHOPFLOOR_PROGRESS_EVERY_MS: z.coerce.number().int().nonnegative().default(30_000),
  /** How often Mission Control re-renders open pages on the server and pushes what changed: a second feels live. */
  SHOPFLOOR_LIVE_MS: z.coerce.number().int().min(100).default(1_000),
});

/** `SHOPFLOOR_SETUP_ENV_<NAME>=value` gives setup commands (and nothing else) `NAME=value`. */
const SETUP_ENV_PREFIX = "SHOPFLOOR_SETUP_ENV_";

export interface Settings {
  stateDir: string;
  workDir: string;
  runnerConcurrency: number;
  runnerMaxQueued: number;
  maxAttempts: number;
  retryBaseDelayMs: number;
  commandTimeoutMs: number;
  agentsDir: string;
  monitorIntervalMs: number;
  reconcileEvery: number;
  retentionDays: number;
  cacheDir: string;
  cacheMaxBytes: number;
  egressAllow: string[];
  sandboxPaths: string[];
  liveIntervalMs: number;
  progressEveryMs: number;
  /** Variables for setup commands only: private registry tokens and the like. */
  setupEnv: Record<string, string>;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), packageRoot = cwd): Settings {
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid Shopfloor settings: ${problems}`);
  }
  const s = parsed.data;
  return {
    stateDir: resolve(cwd, s.SHOPFLOOR_STATE_DIR),
    workDir: resolve(cwd, s.SHOPFLOOR_WORK_DIR),
    runnerConcurrency: s.SHOPFLOOR_RUNNER_CONCURRENCY,
    runnerMaxQueued: s.SHOPFLOOR_RUNNER_MAX_QUEUED,
    maxAttempts: s.SHOPFLOOR_MAX_ATTEMPTS,
    retryBaseDelayMs: s.SHOPFLOOR_RETRY_BASE_MS,
    commandTimeoutMs: s.SHOPFLOOR_COMMAND_TIMEOUT_MS,
    monitorIntervalMs: s.SHOPFLOOR_MONITOR_INTERVAL_MS,
    reconcileEvery: s.SHOPFLOOR_RECONCILE_EVERY,
    retentionDays: s.SHOPFLOOR_RETENTION_DAYS,
    agentsDir: resolve(cwd, s.SHOPFLOOR_AGENTS_DIR ?? resolve(packageRoot, "agents")),
    cacheDir: resolve(cwd, s.SHOPFLOOR_CACHE_DIR ?? resolve(cwd, s.SHOPFLOOR_WORK_DIR, "cache")),
    cacheMaxBytes: Math.round(s.SHOPFLOOR_CACHE_MAX_GB * 1024 ** 3),
    egressAllow: s.SHOPFLOOR_EGRESS_ALLOW.split(/[\s,]+/).filter(Boolean),
    sandboxPaths: s.SHOPFLOOR_SANDBOX_PATHS.split(":").filter((p) => p.startsWith("/")),
    liveIntervalMs: s.SHOPFLOOR_LIVE_MS,
    progressEveryMs: s.SHOPFLOOR_PROGRESS_EVERY_MS,
    setupEnv: setupEnvOf(env),
  };
}

function setupEnvOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    const target = name.startsWith(SETUP_ENV_PREFIX) ? name.slice(SETUP_ENV_PREFIX.length) : "";
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(target) && value !== undefined) out[target] = value;
  }
  return out;
}

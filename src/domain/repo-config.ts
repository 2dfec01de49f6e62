import { z } from "zod";
import { SeveritySchema } from "./review.js";

/**
 * A model route: `<provider>/<model>`. Providers are `anthropic`, `openai`, or an
 * OpenAI-compatible endpoint the operator named with `SHOPFLOOR_ENDPOINT_<NAME>`.
 * A repo picks routes; only the operator decides where a route's requests go.
 */
export const ModelRouteSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]*\/[^\s]+$/, "a route is '<provider>/<model>', e.g. 'anthropic/claude-sonnet-5-5'");

/** An egress allowlist entry: `host`, `host:port`, `*.domain`, `[v6]:port`. */
export const EGRESS_HOST = /^(\*\.)?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+\.?(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export const RuntimeSchema = z.enum(["builtin", "claude-code", "codex"]);

export const RoleLimitsSchema = z
  .object({
    /** Hard cap on model turns for one job of this role. */
    maxTurns: z.number().int().positive().max(500).optional(),
    /** Wall-clock limit for one job of this role. */
    timeoutMinutes: z.number().positive().max(240).optional(),
  })
  .strict();
export type RoleLimits = z.infer<typeof RoleLimitsSchema>;
export type Runtime = z.infer<typeof RuntimeSchema>;

/** `.github/shopfloor.yml`, read from the default branch. Every field has a default. */
export const RepoConfigSchema = z
  .object({
    /** The label that starts a run when a person with write access applies it. */
    trigger: z
      .object({ label: z.string().min(1).max(50).default("agent:build") })
      .strict()
      .default({ label: "agent:build" }),
    /** Model route per role; a role left out uses the `model` of its role card in `agents/`. */
    models: z
      .object({
        /** Plans the work; reads the repo. A frontier model pays off here. */
        planner: ModelRouteSchema.optional(),
        /** Implements one subtask at a time. */
        generator: ModelRouteSchema.optional(),
        /** Writes tests from the contract alone. */
        tester: ModelRouteSchema.optional(),
        /** Reads the diff; a different vendor than the generator catches different mistakes. */
        reviewer: ModelRouteSchema.optional(),
      })
      .strict()
      .default({}),
    /**
     * The repo's own commands. `install` is the setup phase: it runs before any worker, with
     * network only to package registries, and its result is cached; left out, it is detected
     * from the lock files (`""` means nothing to install). `lint` and `test` run in the sandbox
     * with no network on the result; `test` left out is detected too (`""` means not run).
     * A failing install stops lint and test.
     */
    commands: z
      .object({
        install: z.string().optional(),
        lint: z.string().default(""),
        test: z.string().optional(),
        /**
         * Context-aware fix attempts when lint, test or a contract command fails on the result
         * (a generator gets the failing output in its brief) before the gate concludes.
         */
        fixAttempts: z.number().int().min(0).max(5).default(2),
      })
      .strict()
      .default({ lint: "", fixAttempts: 2 }),
    /** The setup phase's network. Agents, scrutiny and contract commands never have any. */
    network: z
      .object({
        /**
         * Hosts setup commands may reach besides the detected ecosystems' public registries:
         * `host` (ports 80 and 443), `host:port`, or `*.domain` — e.g. a private registry.
         */
        allow: z.array(z.string().regex(EGRESS_HOST, "a host, host:port or *.domain, without scheme or path")).max(50).default([]),
      })
      .strict()
      .default({ allow: [] }),
    /** Spend limits for one run. */
    budget: z
      .object({
        /** US dollars, priced from provider usage and the documented price table. */
        usd: z.number().positive().max(1000).default(5),
        /** Input plus output tokens, counted for every model, priced or not. */
        tokens: z.number().int().positive().default(2_000_000),
        /** Share of either budget at which the run pauses and asks a person (0.85 = 85 %). */
        pauseAt: z.number().gt(0).max(1).default(0.85),
        /** Most one job may spend, in dollars; a job stops when it reaches this. */
        jobUsd: z.number().positive().default(1),
        /** Most one job may spend, in tokens. */
        jobTokens: z.number().int().positive().default(400_000),
      })
      .strict()
      .default({ usd: 5, tokens: 2_000_000, pauseAt: 0.85, jobUsd: 1, jobTokens: 400_000 }),
    /**
     * Limits per role, overriding the role card's `max_turns` and `timeout`. Bounded, so a
     * repository can tighten them or give a slow suite room, but never make a job unbounded.
     */
    agents: z
      .object({
        planner: RoleLimitsSchema.optional(),
        generator: RoleLimitsSchema.optional(),
        tester: RoleLimitsSchema.optional(),
        reviewer: RoleLimitsSchema.optional(),
      })
      .strict()
      .default({}),
    /**
     * Which agent runs a role: Shopfloor's own loop (`builtin`), Claude Code (`claude-code`, an
     * `anthropic/…` route) or Codex (`codex`, an OpenAI route). A role left out uses its card's.
     */
    runtimes: z
      .object({
        generator: RuntimeSchema.optional(),
        tester: RuntimeSchema.optional(),
      })
      .strict()
      .default({}),
    /** The multi-vendor review that every change gets before the gate can pass. */
    review: z
      .object({
        /** One route per reviewer; different vendors catch different mistakes. At least two. */
        reviewers: z.array(ModelRouteSchema).min(2, "at least two reviewers").max(5).default(["anthropic/claude-sonnet-5-5", "openai/gpt-5.4"]),
        /** A finding at or above this severity blocks the gate. */
        blockingSeverity: SeveritySchema.default("high"),
        /** Fix rounds (a generator with the findings in its brief) before escalating. */
        fixRounds: z.number().int().min(0).max(3).default(1),
        /** When reviewers disagree: `fix` runs a fix round, `escalate` asks a person at once. */
        onDisagreement: z.enum(["fix", "escalate"]).default("fix"),
      })
      .strict()
      .default({ reviewers: ["anthropic/claude-sonnet-5-5", "openai/gpt-5.4"], blockingSeverity: "high", fixRounds: 1, onDisagreement: "fix" }),
    /** The repo's own CI (other apps' checks on the head commit). */
    ci: z
      .object({
        /** Context-aware fix attempts after a red CI before escalating. */
        fixAttempts: z.number().int().min(0).max(5).default(2),
        /**
         * Minutes to wait for CI to appear on the head commit before deciding that the repository
         * has none: other apps create their check suites seconds to minutes after a push.
         */
        graceMinutes: z.number().min(0).max(60).default(5),
      })
      .strict()
      .default({ fixAttempts: 2, graceMinutes: 5 }),
    /** How long the monitor lets things wait before acting. */
    limits: z
      .object({
        /** A job with no progress (no model turn) for this long is stopped and replaced. */
        stallMinutes: z.number().positive().max(24 * 60).default(10),
        /** A run waiting on the repo's CI this long is escalated. */
        ciWaitMinutes: z.number().positive().default(120),
        /** A plan waiting for `/approve` this long is escalated. */
        approvalWaitHours: z.number().positive().default(72),
      })
      .strict()
      .default({ stallMinutes: 10, ciWaitMinutes: 120, approvalWaitHours: 72 }),
    /** Paths no run may change; a change there fails the gate. */
    protectedPaths: z.array(z.string().min(1)).default([".github/workflows/**"]),
    /** GitHub logins assigned when a run is escalated, and asked to review when it is ready. */
    owners: z.array(z.string().regex(/^[A-Za-z0-9-]+$/, "a GitHub login")).max(10).default([]),
    /** A plan waits for a writer's `/approve` when the planner marks it high-risk, or always when this is true. */
    approval: z.object({ always: z.boolean().default(false) }).strict().default({ always: false }),
    /** A worker reporting `ok` with confidence below this is escalated instead of trusted. */
    confidence: z.object({ threshold: z.number().min(0).max(1).default(0.5) }).strict().default({ threshold: 0.5 }),
    /** Let subtasks that own disjoint files run at the same time (each in its own worktree). */
    parallel: z.boolean().default(false),
  })
  .strict();

export type RepoConfig = z.infer<typeof RepoConfigSchema>;
export const defaultRepoConfig: RepoConfig = RepoConfigSchema.parse({});

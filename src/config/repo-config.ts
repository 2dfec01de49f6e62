import { z } from "zod";
import { RepoConfigSchema, type RepoConfig } from "../domain/index.js";

/** What loading needs of an Octokit: Probot's config plugin (`octokit.config.get`). */
export interface ConfigReader {
  config: { get(params: { owner: string; repo: string; path: string }): Promise<{ config: unknown }> };
}

export const repoConfigPath = ".github/shopfloor.yml";

/** A valid file can still deserve a word: `warnings` name the field and what to change. */
export type RepoConfigOutcome = { ok: true; config: RepoConfig; warnings: string[] } | { ok: false; errors: string[] };

/**
 * Checks that need more than the schema. The caller passes them in because `config/` may import
 * only `domain/` (DESIGN §3), and which model routes are deprecated is `models/`' knowledge
 * (`deprecationNotice` in src/models/deprecated.ts).
 */
export interface RepoConfigChecks {
  /** A warning for a route whose SDK marks the model deprecated, naming its end of life and replacement. */
  deprecationNotice?: (route: string) => string | undefined;
}

/**
 * Read `.github/shopfloor.yml` from the default branch (falling back to the owner's `.github`
 * repository, as Probot's `context.config` does) and validate it. A missing file means defaults.
 */
export async function loadRepoConfig(octokit: ConfigReader, owner: string, repo: string, checks: RepoConfigChecks = {}): Promise<RepoConfigOutcome> {
  let raw: unknown;
  try {
    const { config } = await octokit.config.get({ owner, repo, path: repoConfigPath });
    raw = config ?? {};
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/could not be parsed|not an object/.test(message)) {
      return { ok: false, errors: [`${repoConfigPath} is not valid YAML: ${((error as Error).cause as Error | undefined)?.message ?? message}`] };
    }
    throw error;
  }
  return parseRepoConfig(raw, checks);
}

export function parseRepoConfig(raw: unknown, checks: RepoConfigChecks = {}): RepoConfigOutcome {
  const parsed = RepoConfigSchema.safeParse(raw ?? {});
  if (parsed.success) return { ok: true, config: parsed.data, warnings: routeWarnings(parsed.data, checks) };
  return { ok: false, errors: parsed.error.issues.map(describeIssue) };
}

/**
 * "`models.planner`: anthropic/claude-sonnet-4-5 is deprecated (…)". A warning, not an error: a
 * deprecated model still answers until its end of life, and a run should not stop over it.
 */
function routeWarnings(config: RepoConfig, checks: RepoConfigChecks): string[] {
  const notice = checks.deprecationNotice;
  if (!notice) return [];
  const routes: [string, string | undefined][] = [
    ...Object.entries(config.models).map(([role, route]): [string, string | undefined] => [`models.${role}`, route]),
    ...config.review.reviewers.map((route, i): [string, string] => [`review.reviewers.${i}`, route]),
  ];
  return routes.flatMap(([field, route]) => {
    const text = route === undefined ? undefined : notice(route);
    return text === undefined ? [] : [`\`${field}\`: ${text}`];
  });
}

/** "`budget.usd`: expected a number, got a string" — the field, then what is wrong. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
  if (issue.code === "unrecognized_keys") {
    const where = issue.path.length > 0 ? `\`${field}\`` : "the top level";
    return `${where}: unknown field(s) ${issue.keys.map((k) => `\`${k}\``).join(", ")}; see the documented fields in the README`;
  }
  return `\`${field}\`: ${issue.message}`;
}

/** The JSON Schema of the file, for editors and docs. */
export function repoConfigJsonSchema(): unknown {
  return z.toJSONSchema(RepoConfigSchema, { io: "input" });
}

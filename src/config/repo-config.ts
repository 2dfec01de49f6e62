import { z } from "zod";
import { RepoConfigSchema, type RepoConfig } from "../domain/index.js";

/** What loading needs of an Octokit: Probot's config plugin (`octokit.config.get`). */
export interface ConfigReader {
  config: { get(params: { owner: string; repo: string; path: string }): Promise<{ config: unknown }> };
}

export const repoConfigPath = ".github/shopfloor.yml";

export type RepoConfigOutcome = { ok: true; config: RepoConfig } | { ok: false; errors: string[] };

/**
 * Read `.github/shopfloor.yml` from the default branch (falling back to the owner's `.github`
 * repository, as Probot's `context.config` does) and validate it. A missing file means defaults.
 */
export async function loadRepoConfig(octokit: ConfigReader, owner: string, repo: string): Promise<RepoConfigOutcome> {
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
  return parseRepoConfig(raw);
}

export function parseRepoConfig(raw: unknown): RepoConfigOutcome {
  const parsed = RepoConfigSchema.safeParse(raw ?? {});
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, errors: parsed.error.issues.map(describeIssue) };
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

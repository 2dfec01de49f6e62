import { ProbotOctokit } from "probot";
import { gateCheckName } from "../github/checks.js";

export const rulesetName = "Shopfloor gate";

export interface ProtectOptions {
  /** `owner/name`. */
  repo: string;
  /** Defaults to the repo's default branch. */
  branch?: string;
  /** The App whose `Shopfloor gate` check is required; a run from any other source does not count. */
  appId: number;
  /** A token with administration rights on the repo, which the App itself does not request. */
  token: string;
  /** REST base URL, e.g. `https://ghe.example.com/api/v3`; github.com when absent. */
  baseUrl?: string;
  log: (line: string) => void;
  /** The client class; tests pass one without Octokit's spacing of writes. */
  Octokit?: typeof ProbotOctokit;
}

export interface ProtectOutcome {
  changed: boolean;
  via: "ruleset" | "branch-protection";
  details: string[];
}

/** An expected failure of `shopfloor protect`, with a message meant for the person running it. */
export class ProtectError extends Error {
  override name = "ProtectError";
}

type Octokit = InstanceType<typeof ProbotOctokit>;
interface Target {
  owner: string;
  repo: string;
  branch: string;
  appId: number;
}
interface RequiredCheck {
  context: string;
  integration_id?: number;
}

/**
 * Make `Shopfloor gate`, pinned to the App's id, a required status check on the branch: with a
 * repository ruleset where GitHub offers them, else with classic branch protection. Only what is
 * missing is written, so a second run changes nothing and says so.
 */
export async function protect(opts: ProtectOptions): Promise<ProtectOutcome> {
  const [owner, repo, extra] = opts.repo.split("/");
  if (!owner || !repo || extra !== undefined) throw new ProtectError(`expected <owner/repo>, got "${opts.repo}"`);
  if (!Number.isInteger(opts.appId) || opts.appId <= 0) throw new ProtectError(`expected a numeric App id, got "${opts.appId}"`);
  const Client = opts.Octokit ?? ProbotOctokit;
  const octokit = new Client({ auth: { token: opts.token }, ...(opts.baseUrl !== undefined ? { baseUrl: opts.baseUrl } : {}) });

  const branch = opts.branch ?? (await defaultBranch(octokit, owner, repo));
  const at: Target = { owner, repo, branch, appId: opts.appId };
  const viaRuleset = await withRuleset(octokit, at);
  const outcome = viaRuleset ?? (await withBranchProtection(octokit, at));
  for (const line of outcome.details) opts.log(line);
  if (outcome.changed) opts.log(`Pull requests no Shopfloor run made pass "${gateCheckName}" as "Not a Shopfloor run" while the App is running.`);
  opts.log(outcome.changed ? `${owner}/${repo}@${branch}: done.` : `${owner}/${repo}@${branch}: already protected, nothing changed.`);
  return outcome;
}

async function defaultBranch(octokit: Octokit, owner: string, repo: string): Promise<string> {
  try {
    const { data } = await octokit.rest.repos.get({ owner, repo });
    return data.default_branch;
  } catch (error) {
    throw explain(error, `repository ${owner}/${repo}`);
  }
}

/** `undefined` when rulesets are unavailable here (older GHES, or refused), so the caller falls back. */
async function withRuleset(octokit: Octokit, at: Target): Promise<ProtectOutcome | undefined> {
  const ref = `refs/heads/${at.branch}`;
  const ours: RequiredCheck = { context: gateCheckName, integration_id: at.appId };
  try {
    const sets = await octokit.paginate(octokit.rest.repos.getRepoRulesets, { owner: at.owner, repo: at.repo, includes_parents: false, per_page: 100 });
    const found = sets.find((s) => s.name === rulesetName);
    if (!found) {
      await octokit.rest.repos.createRepoRuleset({
        owner: at.owner,
        repo: at.repo,
        name: rulesetName,
        target: "branch",
        enforcement: "active",
        conditions: { ref_name: { include: [ref], exclude: [] } },
        rules: [
          {
            type: "required_status_checks",
            parameters: { required_status_checks: [ours], strict_required_status_checks_policy: false },
          },
        ],
      });
      return { changed: true, via: "ruleset", details: [`created ruleset "${rulesetName}": ${ref} requires "${gateCheckName}" from App ${at.appId}`] };
    }

    const { data: set } = await octokit.rest.repos.getRepoRuleset({ owner: at.owner, repo: at.repo, ruleset_id: found.id });
    const details: string[] = [];
    const include = set.conditions && "ref_name" in set.conditions ? (set.conditions.ref_name?.include ?? []) : [];
    const exclude = set.conditions && "ref_name" in set.conditions ? (set.conditions.ref_name?.exclude ?? []) : [];
    const rules = set.rules ?? [];
    const checksRule = rules.find((r) => r.type === "required_status_checks");
    const checks: RequiredCheck[] = checksRule?.type === "required_status_checks" ? (checksRule.parameters?.required_status_checks ?? []) : [];
    const hasCheck = checks.some((c) => c.context === gateCheckName && c.integration_id === at.appId);
    if (!hasCheck) details.push(`ruleset "${rulesetName}": now requires "${gateCheckName}" from App ${at.appId}`);
    if (!include.includes(ref)) details.push(`ruleset "${rulesetName}": now applies to ${ref}`);
    if (set.enforcement !== "active") details.push(`ruleset "${rulesetName}": enforcement ${set.enforcement} → active`);
    if (details.length === 0) return { changed: false, via: "ruleset", details: [`ruleset "${rulesetName}" already requires "${gateCheckName}" from App ${at.appId} on ${ref}`] };

    // Keep every other rule and check; replace a same-named check pinned to another source.
    const newChecks = [...checks.filter((c) => c.context !== gateCheckName), ours];
    const newRules = checksRule
      ? rules.map((r) =>
          r === checksRule && r.type === "required_status_checks"
            ? { ...r, parameters: { strict_required_status_checks_policy: false, ...r.parameters, required_status_checks: newChecks } }
            : r,
        )
      : [...rules, { type: "required_status_checks" as const, parameters: { required_status_checks: newChecks, strict_required_status_checks_policy: false } }];
    await octokit.rest.repos.updateRepoRuleset({
      owner: at.owner,
      repo: at.repo,
      ruleset_id: found.id,
      enforcement: "active",
      conditions: { ref_name: { include: include.includes(ref) ? include : [...include, ref], exclude } },
      rules: newRules,
    });
    return { changed: true, via: "ruleset", details };
  } catch (error) {
    const status = statusOf(error);
    if (status === 404 || status === 403) return undefined;
    throw explain(error, `rulesets of ${at.owner}/${at.repo}`);
  }
}

async function withBranchProtection(octokit: Octokit, at: Target): Promise<ProtectOutcome> {
  const where = { owner: at.owner, repo: at.repo, branch: at.branch };
  const ours = { context: gateCheckName, app_id: at.appId };
  const current = await getProtection(octokit, at);

  if (current === undefined) {
    await write(
      () =>
        octokit.rest.repos.updateBranchProtection({
          ...where,
          // `checks` alone: GitHub refuses a body with both `checks` and the deprecated `contexts`.
          required_status_checks: { strict: false, checks: [ours] } as never,
          enforce_admins: false,
          required_pull_request_reviews: null,
          restrictions: null,
        }),
      at,
    );
    return { changed: true, via: "branch-protection", details: [`protected ${at.branch}: requires "${gateCheckName}" from App ${at.appId}`] };
  }

  const checks = current.required_status_checks?.checks ?? [];
  if (checks.some((c) => c.context === gateCheckName && c.app_id === at.appId)) {
    return { changed: false, via: "branch-protection", details: [`branch protection of ${at.branch} already requires "${gateCheckName}" from App ${at.appId}`] };
  }
  // A check GitHub reports with no app accepts any source; -1 says so again, omitting it would pin one.
  const kept = checks.filter((c) => c.context !== gateCheckName).map((c) => ({ context: c.context, app_id: c.app_id ?? -1 }));
  if (current.required_status_checks) {
    await write(() => octokit.rest.repos.updateStatusCheckProtection({ ...where, checks: [...kept, ours] }), at);
  } else {
    // Protected, but without status checks: the whole protection is written, every setting carried over.
    await write(() => octokit.rest.repos.updateBranchProtection({ ...where, ...carriedOver(current), required_status_checks: { strict: false, checks: [ours] } as never }), at);
  }
  return { changed: true, via: "branch-protection", details: [`branch protection of ${at.branch}: now requires "${gateCheckName}" from App ${at.appId}`] };
}

type Protection = Awaited<ReturnType<Octokit["rest"]["repos"]["getBranchProtection"]>>["data"];

async function getProtection(octokit: Octokit, at: Target): Promise<Protection | undefined> {
  try {
    const { data } = await octokit.rest.repos.getBranchProtection({ owner: at.owner, repo: at.repo, branch: at.branch });
    return data;
  } catch (error) {
    if (statusOf(error) === 404 && /not protected/i.test(messageOf(error))) return undefined;
    if (statusOf(error) === 404) throw new ProtectError(`branch ${at.branch} of ${at.owner}/${at.repo} not found, or the token lacks administration rights (GitHub: ${messageOf(error)})`);
    throw explain(error, `branch protection of ${at.branch}`);
  }
}

function carriedOver(p: Protection) {
  const logins = (users?: ({ login?: string } | null)[]) => (users ?? []).flatMap((u) => (u?.login ? [u.login] : []));
  const slugs = (items?: ({ slug?: string | null } | null)[] | null) => (items ?? []).flatMap((t) => (t?.slug ? [t.slug] : []));
  const reviews = p.required_pull_request_reviews;
  return {
    enforce_admins: p.enforce_admins?.enabled ?? false,
    required_pull_request_reviews: reviews
      ? {
          dismiss_stale_reviews: reviews.dismiss_stale_reviews ?? false,
          require_code_owner_reviews: reviews.require_code_owner_reviews ?? false,
          required_approving_review_count: reviews.required_approving_review_count ?? 1,
          require_last_push_approval: reviews.require_last_push_approval ?? false,
          ...(reviews.dismissal_restrictions
            ? { dismissal_restrictions: { users: logins(reviews.dismissal_restrictions.users), teams: slugs(reviews.dismissal_restrictions.teams), apps: slugs(reviews.dismissal_restrictions.apps) } }
            : {}),
          ...(reviews.bypass_pull_request_allowances
            ? {
                bypass_pull_request_allowances: {
                  users: logins(reviews.bypass_pull_request_allowances.users),
                  teams: slugs(reviews.bypass_pull_request_allowances.teams),
                  apps: slugs(reviews.bypass_pull_request_allowances.apps),
                },
              }
            : {}),
        }
      : null,
    restrictions: p.restrictions ? { users: logins(p.restrictions.users), teams: slugs(p.restrictions.teams), apps: slugs(p.restrictions.apps) } : null,
    required_linear_history: p.required_linear_history?.enabled ?? false,
    allow_force_pushes: p.allow_force_pushes?.enabled ?? false,
    allow_deletions: p.allow_deletions?.enabled ?? false,
    block_creations: p.block_creations?.enabled ?? false,
    required_conversation_resolution: p.required_conversation_resolution?.enabled ?? false,
    lock_branch: p.lock_branch?.enabled ?? false,
    allow_fork_syncing: p.allow_fork_syncing?.enabled ?? false,
  };
}

async function write(call: () => Promise<unknown>, at: Target): Promise<void> {
  try {
    await call();
  } catch (error) {
    throw explain(error, `branch protection of ${at.branch}`);
  }
}

function explain(error: unknown, what: string): Error {
  const status = statusOf(error);
  if (status === 401) return new ProtectError(`the token was refused (401): check SHOPFLOOR_ADMIN_TOKEN`);
  if (status === 403) return new ProtectError(`the token lacks administration rights on ${what} (GitHub: ${messageOf(error)})`);
  if (status === 404) return new ProtectError(`${what}: not found, or the token cannot see it (GitHub: ${messageOf(error)})`);
  return error instanceof Error ? error : new Error(String(error));
}

function statusOf(error: unknown): number | undefined {
  return (error as { status?: number }).status;
}

function messageOf(error: unknown): string {
  const data = (error as { response?: { data?: { message?: string } } }).response?.data;
  return data?.message ?? (error instanceof Error ? error.message : String(error));
}

export const protectUsage = `shopfloor protect <owner/repo> [--branch <branch>]

  Require the "${gateCheckName}" check, pinned to this App, on the branch (default: the repo's
  default branch), with a repository ruleset or, where rulesets are unavailable, branch protection.
  Pull requests that no Shopfloor run made get the check too, passing ("Not a Shopfloor run"), so
  people's own pull requests stay mergeable. Needs SHOPFLOOR_ADMIN_TOKEN (a token with administration
  rights on the repo; the App does not request them) and APP_ID; GHE_HOST and GHE_PROTOCOL for GHES.`;

/** `shopfloor protect` from argv and the environment; returns the exit code. */
export async function protectCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  fail: (line: string) => void,
  Octokit?: typeof ProbotOctokit,
): Promise<number> {
  const positional: string[] = [];
  let branch: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--branch") {
      branch = argv[++i];
      if (!branch) return usageError(fail, "--branch needs a branch name");
    } else if (arg.startsWith("--branch=")) {
      branch = arg.slice("--branch=".length);
    } else if (arg.startsWith("-")) {
      return usageError(fail, `unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  const [repo, ...extra] = positional;
  if (!repo || extra.length > 0 || !/^[\w.-]+\/[\w.-]+$/.test(repo)) return usageError(fail, `expected one <owner/repo>, got ${positional.length === 0 ? "none" : `"${positional.join(" ")}"`}`);
  const token = env.SHOPFLOOR_ADMIN_TOKEN;
  if (!token) return usageError(fail, "SHOPFLOOR_ADMIN_TOKEN is not set: a token with administration rights on the repo is needed");
  const appId = Number(env.APP_ID);
  if (!Number.isInteger(appId) || appId <= 0) return usageError(fail, `APP_ID must be the App's numeric id, got "${env.APP_ID ?? ""}"`);
  const baseUrl = env.GHE_HOST ? `${env.GHE_PROTOCOL ?? "https"}://${env.GHE_HOST}/api/v3` : undefined;
  try {
    await protect({ repo, appId, token, log, ...(Octokit ? { Octokit } : {}), ...(branch !== undefined ? { branch } : {}), ...(baseUrl !== undefined ? { baseUrl } : {}) });
    return 0;
  } catch (error) {
    if (error instanceof ProtectError) {
      fail(`shopfloor protect: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

function usageError(fail: (line: string) => void, message: string): number {
  fail(`shopfloor protect: ${message}\n\nusage: ${protectUsage}`);
  return 2;
}

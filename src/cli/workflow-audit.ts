import { readFile } from "node:fs/promises";
import { ProbotOctokit } from "probot";
import { parse } from "yaml";

/**
 * Shopfloor pushes `shopfloor/<issue>-<slug>` to the repository itself and opens a draft PR from
 * it, so the repository's own workflows run the agents' code with the repository's secrets
 * before any person has read it. This audit lists the workflows for which that is true.
 */

/** Names shaped like `runBranch` makes them, with a slug and without, for filters like `shopfloor/*-*`. */
export const sampleRunBranches = ["shopfloor/12-add-divide", "shopfloor/7"];

/**
 * Events that run a Shopfloor branch's code: its pushes (and its creation), and its pull request
 * being opened, updated or reviewed (Shopfloor's reviewers post reviews and inline comments).
 * `issue_comment`, `workflow_run` and the like run the default branch's code instead.
 */
type RunEvent = "push" | "create" | "pull_request" | "pull_request_target" | "pull_request_review" | "pull_request_review_comment";

export interface Trigger {
  event: RunEvent;
  /** What narrows or qualifies it, e.g. `to main` or `paths filter: may run`. */
  note?: string;
}

export interface JobFinding {
  id: string;
  /** Secret names, or `every secret (…)` for `secrets: inherit` and the whole `secrets` context. */
  secrets: string[];
  /** Why Shopfloor's runs cannot reach its secrets; absent when nothing keeps them out. */
  guard?: string;
}

export interface WorkflowAudit {
  path: string;
  /** The events above that fire for a Shopfloor branch or its PR; empty when none does. */
  triggers: Trigger[];
  /** Jobs with secrets in reach, guarded or not; jobs without secrets are left out. */
  jobs: JobFinding[];
  /** Set when the file could not be read as a workflow; nothing else is then known. */
  error?: string;
}

type Doc = Record<string, unknown>;
const isMap = (v: unknown): v is Doc => typeof v === "object" && v !== null && !Array.isArray(v);

/** A GitHub filter pattern as a regular expression; `undefined` when it is not a valid pattern. */
export function filterPattern(pattern: string): RegExp | undefined {
  let out = "";
  let atom = false; // whether `?` or `+` has a single preceding character to apply to
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      const double = pattern[i + 1] === "*";
      const dir = double && pattern[i + 2] === "/"; // `**/`: any leading folders, or none
      out += dir ? "(?:.+/)?" : double ? ".*" : "[^/]*";
      i += dir ? 2 : double ? 1 : 0;
      atom = false;
    } else if (c === "?" || c === "+") {
      if (atom) out += c; // zero or one / one or more of the preceding character
      else if (i === 0) out += `\\${c}`;
      atom = false;
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      const body = end < 0 ? "" : pattern.slice(i + 1, end);
      if (!/^(?:[a-zA-Z0-9](?:-[a-zA-Z0-9])?)+$/.test(body)) return undefined;
      out += `[${body}]`;
      i = end;
      atom = true;
    } else if (c === "\\") {
      if (i + 1 >= pattern.length) return undefined;
      out += escape(pattern[++i]!);
      atom = true;
    } else {
      out += escape(c);
      atom = true;
    }
  }
  try {
    return new RegExp(`^${out}$`);
  } catch {
    return undefined;
  }
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** Whether a filter list selects `name`: the last pattern that matches wins, `!` negates. `undefined` for a pattern GitHub would not read. */
export function filterSelects(patterns: string[], name: string): boolean | undefined {
  let selected = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const re = filterPattern(negated ? raw.slice(1) : raw);
    if (!re) return undefined;
    if (re.test(name)) selected = !negated;
  }
  return selected;
}

const list = (v: unknown): string[] | undefined => (v === undefined || v === null ? undefined : (Array.isArray(v) ? v : [v]).map(String));

/** Does an event with `branches`/`branches-ignore` filters fire for one of `names`? A path filter makes it "may run". */
function branchFilter(event: RunEvent, spec: unknown, names: string[], note?: string): Trigger | undefined {
  const s = isMap(spec) ? spec : {};
  const only = list(s.branches);
  const ignore = list(s["branches-ignore"]);
  if (event === "push" && !only && !ignore && (s.tags !== undefined || s["tags-ignore"] !== undefined)) return undefined; // tags only
  const notes = note ? [note] : [];
  const fires = (n: string): boolean | undefined => {
    if (only) return filterSelects(only, n);
    if (!ignore) return true;
    const ignored = filterSelects(ignore, n);
    return ignored === undefined ? undefined : !ignored;
  };
  const verdicts = names.map(fires);
  if (verdicts.includes(undefined)) notes.push("branch filter not understood: may run");
  else if (!verdicts.includes(true)) return undefined;
  if (s.paths !== undefined || s["paths-ignore"] !== undefined) notes.push("paths filter: may run");
  return notes.length > 0 ? { event, note: notes.join("; ") } : { event };
}

/** The triggers of `on` (a string, a list or a map) that run a Shopfloor branch's code. */
export function runTriggers(on: unknown, defaultBranch: string): Trigger[] {
  const events: Doc = typeof on === "string" ? { [on]: null } : Array.isArray(on) ? Object.fromEntries(on.map((e) => [String(e), null])) : isMap(on) ? on : {};
  const fired: (Trigger | undefined)[] = [];
  if ("push" in events) fired.push(branchFilter("push", events.push, sampleRunBranches));
  if ("create" in events) fired.push({ event: "create", note: "the run branch is created" });
  for (const event of ["pull_request_target", "pull_request"] as const) {
    if (event in events) fired.push(branchFilter(event, events[event], [defaultBranch], `to ${defaultBranch}`));
  }
  for (const event of ["pull_request_review", "pull_request_review_comment"] as const) if (event in events) fired.push({ event });
  return fired.filter((t): t is Trigger => t !== undefined);
}

const allSecrets = (why: string) => `every secret (${why})`;

/** Secrets named in `${{ }}` expressions anywhere under `node`, keyed by upper-cased name (GitHub ignores case). */
function collectSecrets(node: unknown, into: Map<string, string>): void {
  if (typeof node === "string") {
    for (const [, expr] of node.matchAll(/\$\{\{([\s\S]*?)\}\}/g)) {
      for (const m of expr!.matchAll(/(?<![\w.])secrets\s*(?:\.\s*([A-Za-z_][\w-]*)|\[\s*['"]([^'"]+)['"]\s*\])?/g)) {
        const name = m[1] ?? m[2];
        if (name === undefined) into.set("*", allSecrets("the whole secrets context"));
        else if (name.toUpperCase() !== "GITHUB_TOKEN" && !into.has(name.toUpperCase())) into.set(name.toUpperCase(), name);
      }
    }
  } else if (Array.isArray(node)) {
    for (const item of node) collectSecrets(item, into);
  } else if (isMap(node)) {
    for (const value of Object.values(node)) collectSecrets(value, into);
  }
}

/** What keeps Shopfloor's runs out of a job, read from the text of `environment` and `if`; printed for a person to check. */
function guardOf(job: Doc): string | undefined {
  const env = isMap(job.environment) ? job.environment.name : job.environment;
  if (env !== undefined && env !== null && env !== "") return `environment ${String(env)} — make sure it has required reviewers`;
  if (job.if === false) return "if: false (never runs)";
  if (typeof job.if !== "string") return undefined;
  const cond = job.if.trim();
  const byActor = /github\.(?:actor|triggering_actor)\b|\[bot\]/.test(cond);
  const byBranch = /github\.(?:head_ref|ref|ref_name)\b/.test(cond) && /shopfloor/i.test(cond);
  // Naming Shopfloor without any `!`/`!=` selects its runs (`github.actor == 'shopfloor[bot]'`) rather than keeping them out.
  const selectsShopfloor = /shopfloor/i.test(cond) && !cond.includes("!");
  if ((byActor || byBranch) && !selectsShopfloor) return `if: ${cond}`;
  return onlyOtherRef(cond) ? `if: ${cond} — runs only on that ref` : undefined;
}

/**
 * `github.ref == 'refs/heads/main'`, `github.ref_name == 'main'` or a `refs/tags/` prefix: the
 * usual deploy-job condition, which keeps a run branch out as long as nothing is or-ed to it.
 */
function onlyOtherRef(cond: string): boolean {
  if (cond.includes("||")) return false;
  if (/startsWith\(\s*github\.ref\s*,\s*'refs\/tags\//.test(cond)) return true;
  const m = /github\.(ref|ref_name)\s*==\s*'([^']+)'/.exec(cond);
  if (!m) return false;
  const branch = m[1] === "ref" ? (m[2]!.startsWith("refs/heads/") ? m[2]!.slice("refs/heads/".length) : undefined) : m[2]!;
  return branch === undefined || !branch.startsWith("shopfloor/");
}

/** The pure audit of one parsed workflow file. */
export function auditWorkflow(path: string, doc: unknown, defaultBranch: string): WorkflowAudit {
  if (!isMap(doc) || !("on" in doc) || !isMap(doc.jobs)) return { path, triggers: [], jobs: [], error: "not a workflow (no `on` or no `jobs`)" };
  const triggers = runTriggers(doc.on, defaultBranch);
  const jobs: JobFinding[] = [];
  for (const [id, job] of Object.entries(doc.jobs)) {
    if (!isMap(job)) continue;
    const secrets = new Map<string, string>();
    collectSecrets(doc.env, secrets); // workflow-level env reaches every job
    collectSecrets(job, secrets);
    if (job.secrets === "inherit") secrets.set("*inherit", allSecrets("secrets: inherit"));
    if (secrets.size === 0) continue;
    const guard = guardOf(job);
    jobs.push({ id, secrets: [...secrets.values()], ...(guard !== undefined ? { guard } : {}) });
  }
  return { path, triggers, jobs };
}

/** Parses, then audits; a file that is not YAML is reported, never thrown. */
export function auditWorkflowText(path: string, text: string, defaultBranch: string): WorkflowAudit {
  try {
    return auditWorkflow(path, parse(text), defaultBranch);
  } catch (error) {
    return { path, triggers: [], jobs: [], error: `not readable as YAML (${(error instanceof Error ? error.message : String(error)).split("\n")[0]!.replace(/:$/, "")})` };
  }
}

/** A workflow that runs agent code where some job can read secrets and nothing keeps Shopfloor out. */
export const exposes = (w: WorkflowAudit): boolean => w.triggers.length > 0 && w.jobs.some((j) => j.guard === undefined);
const loud = (w: WorkflowAudit): boolean => w.triggers.some((t) => t.event === "pull_request_target");

export interface AuditCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** Printed under the check, one workflow (and its jobs) after another. */
  lines: string[];
}

/** The doctor check: `ok: false` when a workflow exposes secrets to agent code. Loudest first. */
export function describeAudit(repo: string, defaultBranch: string, audits: WorkflowAudit[]): AuditCheck {
  const running = audits.filter((w) => w.triggers.length > 0);
  const exposing = running.filter(exposes);
  const idle = audits.filter((w) => w.triggers.length === 0 && !w.error);
  const lines = [
    ...exposing.filter(loud).flatMap(describeWorkflow),
    ...exposing.filter((w) => !loud(w)).flatMap(describeWorkflow),
    ...running.filter((w) => !exposes(w)).flatMap(describeWorkflow),
    ...audits.filter((w) => w.error).map((w) => `? ${w.path}: ${w.error} — check it by hand`),
    ...(idle.length > 0 ? [`· not run by shopfloor/* branches or their PRs: ${idle.map((w) => w.path).join(", ")}`] : []),
  ];
  const detail =
    audits.length === 0
      ? "no workflows"
      : exposing.length > 0
        ? `${exposing.length} of ${audits.length} workflows run agent code with secrets in reach`
        : running.length > 0
          ? `${running.length} of ${audits.length} workflows run agent code, none with unguarded secrets`
          : `no workflow runs on shopfloor/* branches or their PRs to ${defaultBranch}`;
  return { name: "workflows", ok: exposing.length === 0, detail: `${repo}: ${detail}`, lines };
}

function describeWorkflow(w: WorkflowAudit): string[] {
  const on = w.triggers.map((t) => (t.note ? `${t.event} (${t.note})` : t.event)).join(", ");
  const mark = !exposes(w) ? "✓" : loud(w) ? "‼" : "✗";
  return [
    `${mark} ${w.path} — on ${on}${w.jobs.length === 0 ? "; no job reads secrets" : ""}`,
    ...(loud(w) ? ["    pull_request_target runs with the repository's secrets and a write token: never check out the PR's head in it"] : []),
    ...w.jobs.map((j) => (j.guard ? `    ✓ job ${j.id}: ${j.guard}` : `    ✗ job ${j.id}, unguarded, can read ${j.secrets.join(", ")}`)),
  ];
}

type Octokit = InstanceType<typeof ProbotOctokit>;

/** The default branch and every `.yml`/`.yaml` file in `.github/workflows` (GitHub reads no subfolders). */
export async function readWorkflows(octokit: Octokit, owner: string, repo: string): Promise<{ defaultBranch: string; files: { path: string; text?: string; error?: string }[] }> {
  const { data: meta } = await octokit.rest.repos.get({ owner, repo });
  let entries: unknown;
  try {
    entries = (await octokit.rest.repos.getContent({ owner, repo, path: ".github/workflows" })).data;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return { defaultBranch: meta.default_branch, files: [] };
    throw error;
  }
  const paths = (Array.isArray(entries) ? (entries as { type: string; name: string; path: string }[]) : [])
    .filter((e) => e.type === "file" && /\.ya?ml$/i.test(e.name))
    .map((e) => e.path)
    .sort();
  const files = [];
  for (const path of paths) {
    const { data } = await octokit.rest.repos.getContent({ owner, repo, path });
    const content = !Array.isArray(data) && data.type === "file" && "content" in data && data.encoding === "base64" ? data.content : undefined;
    files.push(content === undefined ? { path, error: "content not returned (too large?)" } : { path, text: Buffer.from(content, "base64").toString("utf8") });
  }
  return { defaultBranch: meta.default_branch, files };
}

/**
 * A client for reading the repository, as protect.ts makes one: the App's own installation,
 * with a token scoped to this repository and read-only, when APP_ID and a key are set and the App
 * is installed there; else GITHUB_TOKEN or SHOPFLOOR_ADMIN_TOKEN. GHE_HOST points it at GitHub
 * Enterprise Server. A string says why there is no client.
 */
export async function readerFor(env: NodeJS.ProcessEnv, owner: string, repo: string, Client: typeof ProbotOctokit = ProbotOctokit): Promise<Octokit | string> {
  const baseUrl = env.GHE_HOST ? { baseUrl: `${env.GHE_PROTOCOL ?? "https"}://${env.GHE_HOST}/api/v3` } : {};
  const appId = Number(env.APP_ID);
  const key = env.PRIVATE_KEY?.trim() ? env.PRIVATE_KEY : env.PRIVATE_KEY_PATH ? await readFile(env.PRIVATE_KEY_PATH, "utf8").catch(() => undefined) : undefined;
  if (Number.isInteger(appId) && appId > 0 && key) {
    const app = new Client({ auth: { appId, privateKey: key.replace(/\\n/g, "\n") }, ...baseUrl });
    const installation = await app.rest.apps.getRepoInstallation({ owner, repo }).catch((error: { status?: number }) => {
      if (error.status === 404) return undefined;
      throw error;
    });
    if (installation) {
      const { token } = (await app.auth({ type: "installation", installationId: installation.data.id, repositoryNames: [repo], permissions: { contents: "read", metadata: "read" } })) as { token: string };
      return new Client({ auth: { token }, ...baseUrl });
    }
  }
  const token = env.GITHUB_TOKEN || env.SHOPFLOOR_ADMIN_TOKEN;
  if (token) return new Client({ auth: { token }, ...baseUrl });
  if (Number.isInteger(appId) && appId > 0 && key) return `the App (APP_ID ${appId}) is not installed on ${owner}/${repo}, and no GITHUB_TOKEN is set`;
  return "no credentials: set APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) with the App installed on the repo, or GITHUB_TOKEN";
}

/** `shopfloor doctor --repo owner/name`: read the workflows and audit them; failures to read are a failed check, not a crash. */
export async function checkWorkflows(repo: string, env: NodeJS.ProcessEnv, Client?: typeof ProbotOctokit): Promise<AuditCheck> {
  const [owner, name] = repo.split("/") as [string, string];
  try {
    const reader = await readerFor(env, owner, name, Client);
    if (typeof reader === "string") return { name: "workflows", ok: false, detail: `cannot read ${repo}: ${reader}`, lines: [] };
    const { defaultBranch, files } = await readWorkflows(reader, owner, name);
    const audits = files.map((f) => (f.text === undefined ? { path: f.path, triggers: [], jobs: [], error: f.error ?? "unreadable" } : auditWorkflowText(f.path, f.text, defaultBranch)));
    return describeAudit(repo, defaultBranch, audits);
  } catch (error) {
    const status = (error as { status?: number }).status;
    const why = status === 401 ? "credentials refused (401)" : status === 404 ? "not found, or not visible with these credentials (404)" : error instanceof Error ? error.message : String(error);
    return { name: "workflows", ok: false, detail: `cannot read ${repo}: ${why}`, lines: [] };
  }
}

/** `--repo owner/name` (or `--repo=owner/name`) from doctor's arguments; a string is a usage error. */
export function parseDoctorArgs(argv: string[]): { repo?: string } | string {
  let repo: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--repo") repo = argv[++i] ?? "";
    else if (arg.startsWith("--repo=")) repo = arg.slice("--repo=".length);
    else return `unknown argument ${arg}`;
  }
  if (repo === undefined) return {};
  return /^[\w.-]+\/[\w.-]+$/.test(repo) ? { repo } : `--repo needs <owner/name>, got "${repo}"`;
}

/**
 * Shared pieces of the people-in-the-loop e2e tests (people-*.test.ts): webhook payloads from
 * @octokit/webhooks-examples adjusted minimally, a scripted CI app, and waits on the run notes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import examples from "@octokit/webhooks-examples";
import nock from "nock";
import { owner, repoName, installationId, type AppHarness } from "../kit/app.js";
import type { CiRun } from "../kit/github.js";
import type { ModelScript, Turn } from "../kit/model-server.js";
import type { Run } from "../../src/domain/index.js";
import { plan } from "./scenario.js";

export const runId = `${owner}/${repoName}#1`;
export const branch = "shopfloor/1-add-farewell-name";
export const full = `/repos/${owner}/${repoName}`;
export const appId = 1234;

const all = examples as unknown as { name: string; examples: any[] }[];
function example(name: string, action: string | undefined, pick: (e: any) => boolean = () => true): any {
  const found = all.find((e) => e.name === name)!.examples.find((e) => e.action === action && pick(e));
  if (!found) throw new Error(`no ${name}.${action} example`);
  return structuredClone(found);
}
const installation = { id: installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" };
/** Hello-World as the examples describe it, for payloads whose example is about another repository. */
const helloWorld = () => example("issues", "labeled").repository;

let commentIds = 5000;
/** `issue_comment.created` on issue 1 (or the PR), by `sender`, with `body`. Each gets a fresh comment id. */
export function commentPayload(body: string, opts: { sender?: string; senderType?: string; issueNumber?: number; onPull?: boolean } = {}): any {
  const payload = example("issue_comment", "created");
  const login = opts.sender ?? "Codertocat";
  const user = { ...payload.sender, login, type: opts.senderType ?? "User" };
  payload.sender = user;
  payload.comment = { ...payload.comment, id: commentIds++, body, user, performed_via_github_app: null };
  payload.issue = { ...payload.issue, number: opts.issueNumber ?? 1 };
  if (opts.onPull) payload.issue.pull_request = { url: `https://api.github.com/repos/${owner}/${repoName}/pulls/${payload.issue.number}` };
  payload.installation = installation;
  return payload;
}

/** `check_run.requested_action` on our gate check (app 1234, `Shopfloor gate`, external id = run id). */
export function buttonPayload(identifier: string, check: { id: number; head_sha: string }, sender = "Codertocat"): any {
  const payload = example("check_run", "requested_action");
  delete payload.organization;
  payload.repository = helloWorld();
  payload.installation = installation;
  payload.sender = { ...payload.sender, login: sender, type: "User" };
  payload.requested_action = { identifier };
  payload.check_run = { ...payload.check_run, id: check.id, head_sha: check.head_sha, name: "Shopfloor gate", external_id: runId, app: { ...payload.check_run.app, id: appId } };
  return payload;
}

/** Another app's `check_suite.completed` on the run branch at `sha`. */
export function checkSuitePayload(sha: string, conclusion: string): any {
  const payload = example("check_suite", "completed", (e) => e.check_suite.head_branch === "changes");
  payload.check_suite = { ...payload.check_suite, head_branch: branch, head_sha: sha, after: sha, conclusion };
  payload.installation = installation;
  return payload;
}

export function prClosedPayload(number: number, merged: boolean): any {
  const payload = example("pull_request", "closed");
  payload.number = number;
  payload.pull_request = { ...payload.pull_request, number, merged, head: { ...payload.pull_request.head, ref: branch } };
  payload.installation = installation;
  return payload;
}

export function unlabeledPayload(label = "agent:build", sender = "Codertocat"): any {
  const payload = example("issues", "unlabeled");
  payload.label = { ...payload.label, name: label };
  payload.sender = { ...payload.sender, login: sender, type: "User" };
  payload.installation = installation;
  return payload;
}

/** `push` of one commit by a person to the run branch. */
export function pushPayload(before: string, after: string, email: string): any {
  const payload = example("push", undefined, (e) => e.ref === "refs/heads/master" && e.commits.length === 1);
  payload.ref = `refs/heads/${branch}`;
  payload.before = before;
  payload.after = after;
  payload.commits = [{ ...payload.commits[0], id: after, committer: { ...payload.commits[0].committer, email }, author: { ...payload.commits[0].author, email } }];
  payload.head_commit = payload.commits[0];
  payload.installation = installation;
  return payload;
}

// ---- model script pieces ----

export const planTurn: Turn = { toolCalls: [{ name: "finish", args: plan }], usage: { input: 1500, output: 300 } };
export const handoff = { completed: ["src/farewell.js"], remaining: [], commands: [], issues: [], followedProcedure: true };
export const blockedTurn: Turn = {
  toolCalls: [{ name: "finish", args: { status: "blocked", confidence: 0.4, summary: "The brief does not say which greeting style to use", handoff: { ...handoff, completed: [], remaining: ["src/farewell.js"] } } }],
  usage: { input: 900, output: 50 },
};
export const writeTurn = (content: string): Turn => ({ toolCalls: [{ name: "write_file", args: { path: "src/farewell.js", content } }], usage: { input: 900, output: 60 } });
export const finishTurn = (summary = "Implemented farewell"): Turn => ({
  toolCalls: [{ name: "finish", args: { status: "ok", confidence: 0.9, summary, handoff } }],
  usage: { input: 1000, output: 60 },
});
/** A generator attempt that writes `content` and reports ok: two turns, no command (scrutiny runs the tests). */
export const buildTurns = (content: string, summary?: string): Turn[] => [writeTurn(content), finishTurn(summary)];

/** Every model request the server saw is one scripted turn that was consumed: nothing else asked a model. */
export function consumedTurns(script: ModelScript, remaining: Record<string, number>): number {
  return Object.entries(script).reduce((sum, [model, turns]) => sum + turns.length - (remaining[model] ?? 0), 0);
}

// ---- waiting and reading ----

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

/**
 * Nothing the run decided is still under way: at most its progress comment's next update waits
 * its turn (updates are coalesced while a run works, and change nothing but the comment).
 */
export const settled = (run: Run): boolean => run.pending.every((e) => e.kind === "upsertProgressComment" && e.notBefore !== undefined);

/** The run once `test` holds and nothing it decided is still under way. */
export function waitForPhase(app: AppHarness, test: (run: Run) => boolean, what: string, timeoutMs?: number): Promise<Run> {
  return waitUntil(
    what,
    async () => {
      const run = await app.readRun(runId);
      return run && test(run) && settled(run) ? run : undefined;
    },
    timeoutMs,
  );
}

/**
 * Before closing an app: let the run's decided effects finish, so no write lands in the state
 * directory while the harness removes it. Gives up quietly after `timeoutMs`.
 */
export async function quiesce(app: AppHarness | undefined, timeoutMs = 3_000): Promise<void> {
  if (!app) return;
  const quiet = async () => {
    const run = await app.readRun(runId);
    return !run || settled(run);
  };
  await waitUntil("nothing pending", quiet, timeoutMs).catch(() => undefined);
  await settle(50);
}

export const settle = (ms = 250) => new Promise((r) => setTimeout(r, ms));

export interface JournalEntry {
  seq: number;
  at: string;
  event: { type: string; [k: string]: unknown };
  effects: string[];
  phase: string | null;
  note?: string;
}
export function journal(app: AppHarness): JournalEntry[] {
  const text = readFileSync(join(app.stateDir, "runs", owner, repoName, "1", "journal.jsonl"), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JournalEntry);
}

export const originPath = (app: AppHarness) => join(app.originRoot, owner, `${repoName}.git`);

/** The branch tip on the origin, synchronously (for fakes that answer inside a nock reply); undefined before it exists. */
export function originTip(app: AppHarness, ref = branch): string | undefined {
  try {
    return execFileSync("git", ["rev-parse", "--verify", "-q", `refs/heads/${ref}`], { cwd: originPath(app), encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

/** A person commits `file` on the run branch and pushes it straight to the origin. Returns the new tip. */
export function personPushes(app: AppHarness, file: string, content: string, email = "monalisa@example.com"): string {
  const dir = mkdtempSync(join(tmpdir(), "person-"));
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "Mona", GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: "Mona", GIT_COMMITTER_EMAIL: email } });
    git("clone", "-q", "--branch", branch, originPath(app), ".");
    writeFileSync(join(dir, file), content);
    git("add", file);
    git("commit", "-q", "-m", "A person's own change");
    git("push", "-q", "origin", `HEAD:refs/heads/${branch}`);
    return git("rev-parse", "HEAD").trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const ciApp = { id: 29310, slug: "octocoders-linter", name: "octocoders-linter" };

/**
 * Another app's CI, as GitHub runs it: every new tip of the run branch gets a `build` check run
 * that starts `in_progress`; the test completes it and delivers `check_suite.completed`.
 * Installed as FakeGitHub's `ci`, read live whenever the fake answers a checks request.
 */
export class ScriptedCi {
  readonly bySha = new Map<string, CiRun>();
  constructor(private readonly app: AppHarness) {
    Object.defineProperty(app.github, "ci", {
      configurable: true,
      get: () => {
        const tip = originTip(this.app);
        if (tip && !this.bySha.has(tip)) this.bySha.set(tip, { head_sha: tip, name: "build", app: ciApp, status: "in_progress", conclusion: null });
        return [...this.bySha.values()];
      },
      set: () => undefined,
    });
  }

  complete(sha: string, conclusion: "success" | "failure", output?: { title: string; summary: string }): void {
    const run = this.bySha.get(sha);
    if (!run) throw new Error(`no CI run on ${sha}`);
    Object.assign(run, { status: "completed", conclusion, ...(output && { output }) });
  }
}

/** The run waits on CI still running on its head: read, in progress, nothing pending. */
export function waitForCiRunning(app: AppHarness, what: string, notOn?: string): Promise<Run> {
  return waitForPhase(app, (r) => r.phase === "awaiting_ci" && r.headSha !== notOn && (r.ci ?? []).some((c) => c.status !== "completed"), what);
}

/**
 * Octokit sends `git.getRef` / `git.deleteRef` with the ref's slashes encoded
 * (`/git/ref/heads%2Fshopfloor%2F1-…`), as GitHub accepts; FakeGitHub only matches the decoded
 * form. These interceptors answer the encoded form the way the fake does, and record it decoded.
 */
export function acceptEncodedRefs(app: AppHarness): void {
  const gh = app.github;
  const api = new URL(gh.apiBase);
  const repoPath = `${api.pathname.replace(/\/$/, "")}${full}`;
  const branchOf = (uri: string, marker: string) => decodeURIComponent(uri.split(marker)[1]!).replace(/^heads\//, "");
  const scope = nock(api.origin).persist();
  scope.get(new RegExp(`^${repoPath}/git/ref/heads%2F.+$`)).reply((uri) => {
    const name = branchOf(uri, "/git/ref/");
    gh.requests.push({ method: "GET", path: `${full}/git/ref/heads/${name}`, body: undefined });
    if (!gh.pulls.some((p) => p.head === name) || gh.deletedRefs.includes(name)) return [404, { message: "Not Found" }];
    return [200, { ref: `refs/heads/${name}`, object: { sha: gh.refSha?.(name) ?? "" } }];
  });
  scope.delete(new RegExp(`^${repoPath}/git/refs/heads%2F.+$`)).reply((uri) => {
    const name = branchOf(uri, "/git/refs/");
    gh.requests.push({ method: "DELETE", path: `${full}/git/refs/heads/${name}`, body: undefined });
    gh.deletedRefs.push(name);
    return [204, ""];
  });
}

/**
 * FakeGitHub's pull requests carry no `head.repo` / `base.repo`, which GitHub always sends and
 * which intake reads to refuse fork PRs. Adds them (same repository: not a fork) on this fake.
 */
export function pullsWithRepos(app: AppHarness): void {
  const gh = app.github as unknown as { pullJson(p: unknown): any };
  const original = gh.pullJson.bind(gh);
  const repo = { full_name: `${owner}/${repoName}`, name: repoName, owner: { login: owner } };
  gh.pullJson = (p) => {
    const json = original(p);
    return { ...json, head: { ...json.head, repo }, base: { ...json.base, repo } };
  };
}

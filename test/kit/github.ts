import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import nock from "nock";

export interface GitHubRequest {
  method: string;
  path: string;
  body: any;
}

/** The App the kit's app runs as (APP_ID 1234), as GitHub stamps its writes. */
const shopfloorBot = { login: "shopfloor[bot]", type: "Bot" };
const shopfloorApp = { id: 1234, slug: "shopfloor", name: "Shopfloor" };

export interface Comment {
  id: number;
  body: string;
  /** Who wrote it, as GitHub reports it: the App's own writes carry its bot user and App stamp. */
  user?: { login: string; type: string };
  performed_via_github_app?: { id: number; slug: string; name: string } | null;
}
export interface Pull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
  draft: boolean;
}
export interface PullReview {
  id: number;
  pull: number;
  body: string;
  event: string;
  commit_id: string;
  comments: { path: string; line: number; side: string; body: string }[];
}
/** Another app's CI on a commit, as a test scripts it. */
export interface CiRun {
  head_sha: string;
  name: string;
  app: { id: number; slug: string; name: string };
  status: string;
  conclusion: string | null;
  output?: { title?: string; summary?: string };
}
export interface CheckRun {
  id: number;
  name: string;
  head_sha: string;
  external_id: string;
  status: string;
  conclusion: string | null;
  output: { title: string; summary: string };
}

interface NoMatchTarget {
  method?: string;
  path?: string;
  host?: string;
  hostname?: string;
  port?: string | number;
  href?: string;
}
type NoMatchRequest = NoMatchTarget & { options?: NoMatchTarget };

/** What GitHub "holds", as written to `statePath`: enough to rebuild the fake in a new process. */
export interface FakeGitHubState {
  requests: GitHubRequest[];
  unexpected: string[];
  comments: [number, Comment[]][];
  pulls: Pull[];
  checkRuns: CheckRun[];
  permissions: Record<string, string>;
  configYaml: string | null;
  nextId: number;
  reviews?: PullReview[];
  labels?: [number, string[]][];
  assignees?: [number, string[]][];
  reactions?: { commentId: number; content: string }[];
  requestedReviewers?: [number, string[]][];
  ready?: number[];
  deletedRefs?: string[];
  ci?: CiRun[];
}

/** The persisted state of a fake, read from another process; undefined before its first write. */
export function readFakeGitHubState(statePath: string): FakeGitHubState | undefined {
  if (!existsSync(statePath)) return undefined;
  return JSON.parse(readFileSync(statePath, "utf8")) as FakeGitHubState;
}

/**
 * GitHub at the HTTP boundary, with nock: a small stateful fake of the endpoints Shopfloor uses,
 * recording every request so tests can assert exactly what was asked of GitHub. Anything not
 * modelled here is refused by nock and recorded in `unexpected`.
 *
 * With `statePath`, the fake outlives the process that hosts it, as GitHub outlives a crashed
 * app: state is loaded at construction and written atomically before each reply leaves, so a
 * SIGKILL never loses a write GitHub already made.
 */
export class FakeGitHub {
  readonly requests: GitHubRequest[] = [];
  readonly unexpected: string[] = [];
  readonly comments = new Map<number, Comment[]>();
  readonly pulls: Pull[] = [];
  readonly checkRuns: CheckRun[] = [];
  readonly reviews: PullReview[] = [];
  readonly labels = new Map<number, string[]>();
  readonly assignees = new Map<number, string[]>();
  readonly reactions: { commentId: number; content: string }[] = [];
  readonly requestedReviewers = new Map<number, string[]>();
  /** PR numbers marked ready for review (GraphQL). */
  readonly ready: number[] = [];
  readonly deletedRefs: string[] = [];
  /** Other apps' CI runs; tests add to it. */
  ci: CiRun[] = [];
  /** Open issues carrying labels, for reconciliation: number → { title, body, labeller }. */
  openIssues = new Map<number, { title: string; body: string; label: string; labeller: string; eventId: number }>();
  /** The App's installations, for reconciliation. */
  installationId = 42;
  permissions: Record<string, string> = {};
  /** `.github/shopfloor.yml` on the default branch; undefined means the file does not exist. */
  configYaml: string | undefined;
  private nextId = 1000;
  private readonly onNoMatch = (req: NoMatchRequest) => {
    // nock 14 passes its intercepted ClientRequest, whose target is in `options`; older forms carry it on top.
    const target = { ...req, ...req.options };
    const host = target.host ?? `${target.hostname}:${target.port}`;
    const api = new URL(this.apiBase);
    // Loopback traffic to the app and the model server is allowed through; only GitHub is fenced.
    if (host !== api.host && target.href?.startsWith(api.origin) !== true) return;
    const path = target.path ?? target.href ?? "";
    this.unexpected.push(`${req.method ?? target.method} ${path.startsWith(api.pathname) ? path.slice(api.pathname.replace(/\/$/, "").length) : path}`);
    this.save();
  };
  private readonly statePath: string | undefined;
  /** True when state was loaded from `statePath` (a restart), false for a fresh GitHub. */
  readonly restored: boolean = false;

  constructor(
    readonly apiBase: string,
    readonly repo: { owner: string; name: string; defaultBranch: string },
    readonly token: string,
    opts: { statePath?: string } = {},
  ) {
    this.statePath = opts.statePath;
    const saved = this.statePath === undefined ? undefined : readFakeGitHubState(this.statePath);
    if (saved) {
      this.requests.push(...saved.requests);
      this.unexpected.push(...saved.unexpected);
      for (const [issue, list] of saved.comments) this.comments.set(issue, list);
      this.pulls.push(...saved.pulls);
      this.checkRuns.push(...saved.checkRuns);
      this.permissions = saved.permissions;
      this.configYaml = saved.configYaml ?? undefined;
      this.nextId = saved.nextId;
      this.reviews.push(...(saved.reviews ?? []));
      for (const [n, l] of saved.labels ?? []) this.labels.set(n, l);
      for (const [n, l] of saved.assignees ?? []) this.assignees.set(n, l);
      this.reactions.push(...(saved.reactions ?? []));
      for (const [n, l] of saved.requestedReviewers ?? []) this.requestedReviewers.set(n, l);
      this.ready.push(...(saved.ready ?? []));
      this.deletedRefs.push(...(saved.deletedRefs ?? []));
      this.ci = saved.ci ?? [];
      this.restored = true;
    }
    const full = `/repos/${repo.owner}/${repo.name}`;
    const prefix = new URL(apiBase).pathname.replace(/\/$/, "");
    const scope = nock(new URL(apiBase).origin).persist();
    const record = (method: string, uri: string, body: unknown) => {
      const path = decodeURIComponent(uri.slice(prefix.length));
      this.requests.push({ method, path, body: typeof body === "string" && body ? safeJson(body) : body });
    };
    scope
      .post(new RegExp(`^${prefix}/app/installations/\\d+/access_tokens$`))
      .reply(this.persisted((uri, body) => {
        record("POST", uri, body);
        const expires = new Date(Date.now() + 3600_000).toISOString();
        return [201, { token: this.token, expires_at: expires, permissions: { contents: "write" }, repository_selection: "selected" }];
      }));
    scope.get(new RegExp(`^${prefix}${full}/collaborators/[^/]+/permission$`)).reply(this.persisted((uri) => {
      record("GET", uri, undefined);
      const user = decodeURIComponent(uri.split("/").at(-2)!);
      const permission = this.permissions[user] ?? "none";
      const legacy = permission === "maintain" ? "write" : permission === "triage" ? "read" : permission;
      return [200, { permission: legacy, role_name: permission, user: { login: user } }];
    }));
    scope.get(`${prefix}${full}`).reply(this.persisted((uri) => {
      record("GET", uri, undefined);
      return [200, { id: 1, name: repo.name, full_name: `${repo.owner}/${repo.name}`, owner: { login: repo.owner }, default_branch: repo.defaultBranch }];
    }));
    scope.get(new RegExp(`^${prefix}/repos/[^/]+/[^/]+/contents/`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      const own = decodeURIComponent(uri).startsWith(`${prefix}${full}/contents/.github/shopfloor.yml`);
      if (own && this.configYaml !== undefined) return [200, this.configYaml, { "content-type": "application/vnd.github.raw; charset=utf-8" }];
      return [404, { message: "Not Found" }];
    }));
    scope.get(new RegExp(`^${prefix}${full}/issues/\\d+/comments`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      const issue = Number(/issues\/(\d+)\/comments/.exec(uri)![1]);
      return [200, this.comments.get(issue) ?? []];
    }));
    scope.post(new RegExp(`^${prefix}${full}/issues/\\d+/comments$`)).reply(this.persisted((uri, body: any) => {
      record("POST", uri, body);
      const issue = Number(/issues\/(\d+)\/comments/.exec(uri)![1]);
      const comment: Comment = { id: this.nextId++, body: body.body as string, user: shopfloorBot, performed_via_github_app: shopfloorApp };
      this.comments.set(issue, [...(this.comments.get(issue) ?? []), comment]);
      return [201, comment];
    }));
    scope.patch(new RegExp(`^${prefix}${full}/issues/comments/\\d+$`)).reply(this.persisted((uri, body: any) => {
      record("PATCH", uri, body);
      const id = Number(uri.split("/").at(-1));
      for (const list of this.comments.values()) {
        const c = list.find((x) => x.id === id);
        if (c) {
          c.body = body.body;
          return [200, c];
        }
      }
      return [404, { message: "Not Found" }];
    }));
    scope.get(new RegExp(`^${prefix}${full}/pulls\\?`)).reply(this.persisted((uri) => {
      const url = new URL(uri, "http://x");
      record("GET", `${url.pathname}?head=${url.searchParams.get("head")}&state=${url.searchParams.get("state")}`, undefined);
      const head = url.searchParams.get("head")!.split(":")[1];
      return [200, this.pulls.filter((p) => p.head === head).map((p) => this.pullJson(p))];
    }));
    scope.post(`${prefix}${full}/pulls`).reply(this.persisted((uri, body: any) => {
      record("POST", uri, body);
      const pull = { number: this.nextId++, head: body.head, base: body.base, title: body.title, body: body.body, draft: body.draft };
      this.pulls.push(pull);
      return [201, this.pullJson(pull)];
    }));
    scope.get(new RegExp(`^${prefix}${full}/commits/[0-9a-f]+/check-runs`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      const sha = /commits\/([0-9a-f]+)\//.exec(uri)![1];
      const name = new URL(uri, "http://x").searchParams.get("check_name");
      const ci = this.ci
        .filter((c) => c.head_sha === sha)
        .map((c, i) => ({ id: 900 + i, ...c, check_suite: { id: c.app.id * 10 }, html_url: `https://ci.example/${c.name}`, external_id: "" }));
      const runs = [...this.checkRuns.filter((c) => c.head_sha === sha), ...ci].filter((c) => name === null || c.name === name);
      return [200, { total_count: runs.length, check_runs: runs }];
    }));
    scope.post(`${prefix}${full}/check-runs`).reply(this.persisted((uri, body: any) => {
      record("POST", uri, body);
      const run = { id: this.nextId++, ...body } as CheckRun;
      this.checkRuns.push(run);
      return [201, run];
    }));
    scope.patch(new RegExp(`^${prefix}${full}/check-runs/\\d+$`)).reply(this.persisted((uri, body: any) => {
      record("PATCH", uri, body);
      const run = this.checkRuns.find((c) => c.id === Number(uri.split("/").at(-1)));
      if (!run) return [404, { message: "Not Found" }];
      Object.assign(run, body);
      return [200, run];
    }));
    const num = (uri: string, re: RegExp) => Number(re.exec(uri)![1]);
    scope.get(new RegExp(`^${prefix}${full}/pulls/\\d+/reviews`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      const pull = num(uri, /pulls\/(\d+)\/reviews/);
      return [200, this.reviews.filter((r) => r.pull === pull).map((r) => ({ id: r.id, body: r.body, state: "COMMENTED", commit_id: r.commit_id, user: shopfloorBot }))];
    }));
    scope.post(new RegExp(`^${prefix}${full}/pulls/\\d+/reviews$`)).reply(this.persisted((uri, body: any) => {
      record("POST", uri, body);
      const review = { id: this.nextId++, pull: num(uri, /pulls\/(\d+)\/reviews/), body: body.body, event: body.event, commit_id: body.commit_id, comments: body.comments ?? [] };
      this.reviews.push(review);
      return [200, { id: review.id, body: review.body, state: "COMMENTED" }];
    }));
    scope.get(new RegExp(`^${prefix}${full}/pulls/\\d+$`)).reply(this.persisted((uri) => {
      record("GET", uri, undefined);
      const pull = this.pulls.find((p) => p.number === num(uri, /pulls\/(\d+)$/));
      if (!pull) return [404, { message: "Not Found" }];
      return [200, { ...this.pullJson(pull), node_id: `PR_${pull.number}`, user: { login: "shopfloor[bot]" }, requested_reviewers: (this.requestedReviewers.get(pull.number) ?? []).map((login) => ({ login })) }];
    }));
    scope.post(new RegExp(`^${prefix}${full}/pulls/\\d+/requested_reviewers$`)).reply(this.persisted((uri, body: any) => {
      record("POST", uri, body);
      const pull = num(uri, /pulls\/(\d+)\/requested_reviewers/);
      this.requestedReviewers.set(pull, [...new Set([...(this.requestedReviewers.get(pull) ?? []), ...body.reviewers])]);
      return [201, { number: pull }];
    }));
    // GitHub Enterprise Server serves GraphQL at /api/graphql, beside the REST base /api/v3.
    const graphql = prefix.endsWith("/api/v3") ? `${prefix.slice(0, -"/v3".length)}/graphql` : `${prefix}/graphql`;
    scope.post(graphql).reply(this.persisted((_uri, body: any) => {
      this.requests.push({ method: "POST", path: "/graphql", body });
      const id = String(body.variables?.pullRequestId ?? body.variables?.id ?? "");
      const pull = Number(id.replace(/^PR_/, ""));
      if (/markPullRequestReadyForReview/.test(body.query)) {
        const p = this.pulls.find((x) => x.number === pull);
        if (p) p.draft = false;
        this.ready.push(pull);
        return [200, { data: { markPullRequestReadyForReview: { pullRequest: { id, isDraft: false } } } }];
      }
      return [200, { data: { node: { id, isDraft: this.pulls.find((x) => x.number === pull)?.draft ?? true } } }];
    }));
    scope.post(new RegExp(`^${prefix}${full}/issues/\\d+/labels$`)).reply(this.persisted((uri, body: any) => {
      record("POST", uri, body);
      const issue = num(uri, /issues\/(\d+)\/labels/);
      this.labels.set(issue, [...new Set([...(this.labels.get(issue) ?? []), ...body.labels])]);
      return [200, (this.labels.get(issue) ?? []).map((name) => ({ name }))];
    }));
    scope.delete(new RegExp(`^${prefix}${full}/issues/\\d+/labels/.+$`)).reply(this.persisted((uri) => {
      record("DELETE", uri, undefined);
      const issue = num(uri, /issues\/(\d+)\/labels/);
      const name = decodeURIComponent(uri.split("/labels/")[1]!);
      const had = this.labels.get(issue) ?? [];
      if (!had.includes(name)) return [404, { message: "Label does not exist" }];
      this.labels.set(issue, had.filter((l) => l !== name));
      return [200, []];
    }));
    scope.post(new RegExp(`^${prefix}${full}/issues/\\d+/assignees$`)).reply(this.persisted((uri, body: any) => {
      record("POST", uri, body);
      const issue = num(uri, /issues\/(\d+)\/assignees/);
      this.assignees.set(issue, [...new Set([...(this.assignees.get(issue) ?? []), ...body.assignees])]);
      return [201, { number: issue }];
    }));
    scope.post(new RegExp(`^${prefix}${full}/issues/comments/\\d+/reactions$`)).reply(this.persisted((uri, body: any) => {
      record("POST", uri, body);
      this.reactions.push({ commentId: num(uri, /comments\/(\d+)\/reactions/), content: body.content });
      return [201, { id: this.nextId++, content: body.content }];
    }));
    scope.get(new RegExp(`^${prefix}${full}/commits/[0-9a-f]+/check-suites`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      const sha = /commits\/([0-9a-f]+)\//.exec(uri)![1];
      const runs = this.ci.filter((c) => c.head_sha === sha);
      const apps = [...new Map(runs.map((r) => [r.app.id, r.app])).values()];
      const suites = apps.map((app) => {
        const mine = runs.filter((r) => r.app.id === app.id);
        const done = mine.every((r) => r.status === "completed");
        return { id: app.id * 10, app, head_sha: sha, status: done ? "completed" : "in_progress", conclusion: done ? (mine.some((r) => r.conclusion !== "success") ? "failure" : "success") : null, latest_check_runs_count: mine.length };
      });
      return [200, { total_count: suites.length, check_suites: suites }];
    }));
    scope.get(new RegExp(`^${prefix}${full}/commits/[0-9a-f]+/status(\\?|$)`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      return [200, { state: "success", statuses: [], total_count: 0 }];
    }));
    scope.get(new RegExp(`^${prefix}${full}/git/ref/heads/.+$`)).reply(this.persisted((uri) => {
      record("GET", uri, undefined);
      const branch = decodeURIComponent(uri.split("/git/ref/heads/")[1]!);
      const pull = this.pulls.find((p) => p.head === branch);
      if (!pull || this.deletedRefs.includes(branch)) return [404, { message: "Not Found" }];
      return [200, { ref: `refs/heads/${branch}`, object: { sha: this.refSha?.(branch) ?? "" } }];
    }));
    scope.delete(new RegExp(`^${prefix}${full}/git/refs/heads/.+$`)).reply(this.persisted((uri) => {
      record("DELETE", uri, undefined);
      this.deletedRefs.push(decodeURIComponent(uri.split("/git/refs/heads/")[1]!));
      return [204, ""];
    }));
    scope.get(new RegExp(`^${prefix}/app/installations(\\?|$)`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      return [200, [{ id: this.installationId, account: { login: repo.owner } }]];
    }));
    scope.get(new RegExp(`^${prefix}/installation/repositories`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      return [200, { total_count: 1, repositories: [{ id: 1, name: repo.name, full_name: `${repo.owner}/${repo.name}`, owner: { login: repo.owner } }] }];
    }));
    scope.get(new RegExp(`^${prefix}${full}/issues\\?`)).reply(this.persisted((uri) => {
      const url = new URL(uri, "http://x");
      record("GET", `${url.pathname.slice(prefix.length)}?labels=${url.searchParams.get("labels")}&state=${url.searchParams.get("state")}`, undefined);
      const label = url.searchParams.get("labels");
      return [200, [...this.openIssues].filter(([, i]) => i.label === label).map(([number, i]) => ({ number, title: i.title, body: i.body, labels: [{ name: i.label }] }))];
    }));
    scope.get(new RegExp(`^${prefix}${full}/issues/\\d+/events`)).reply(this.persisted((uri) => {
      record("GET", uri.split("?")[0]!, undefined);
      const issue = this.openIssues.get(num(uri, /issues\/(\d+)\/events/));
      if (!issue) return [200, []];
      return [200, [{ id: issue.eventId, event: "labeled", label: { name: issue.label }, actor: { login: issue.labeller, type: "User" } }]];
    }));
    nock.emitter.on("no match", this.onNoMatch);
  }

  /** Tells the fake what commit a branch points at (the origin repo knows; the test wires it). */
  refSha?: (branch: string) => string;

  /** Wraps a reply so that GitHub's state is durable before the response leaves. */
  private persisted(reply: (uri: string, body: nock.Body) => nock.ReplyFnResult): (uri: string, body: nock.Body) => nock.ReplyFnResult {
    return (uri, body) => {
      const result = reply(uri, body);
      this.save();
      return result;
    };
  }

  private save(): void {
    if (this.statePath === undefined) return;
    const state: FakeGitHubState = {
      requests: this.requests,
      unexpected: this.unexpected,
      comments: [...this.comments],
      pulls: this.pulls,
      checkRuns: this.checkRuns,
      permissions: this.permissions,
      configYaml: this.configYaml ?? null,
      nextId: this.nextId,
      reviews: this.reviews,
      labels: [...this.labels],
      assignees: [...this.assignees],
      reactions: this.reactions,
      requestedReviewers: [...this.requestedReviewers],
      ready: this.ready,
      deletedRefs: this.deletedRefs,
      ci: this.ci,
    };
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, this.statePath);
  }

  /** Requests as `METHOD path`, in order. */
  lines(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }

  count(method: string, path: string | RegExp): number {
    return this.requests.filter((r) => r.method === method && (typeof path === "string" ? r.path === path : path.test(r.path))).length;
  }

  close(): void {
    nock.emitter.removeListener("no match", this.onNoMatch);
    nock.cleanAll();
  }

  private pullJson(p: Pull) {
    return {
      number: p.number,
      html_url: `https://github.example/${this.repo.owner}/${this.repo.name}/pull/${p.number}`,
      head: { ref: p.head },
      base: { ref: p.base },
      title: p.title,
      body: p.body,
      draft: p.draft,
      state: "open",
    };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

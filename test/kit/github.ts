import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import nock from "nock";

export interface GitHubRequest {
  method: string;
  path: string;
  body: any;
}

export interface Comment {
  id: number;
  body: string;
}
export interface Pull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
  draft: boolean;
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
      const comment = { id: this.nextId++, body: body.body as string };
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
      const runs = this.checkRuns.filter((c) => c.head_sha === sha);
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
    nock.emitter.on("no match", this.onNoMatch);
  }

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

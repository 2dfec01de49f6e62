import type { InstallationOctokit } from "../../src/github/octokit.js";

/**
 * GitHub in memory: just enough of the REST and GraphQL surface the effect modules use, every
 * call recorded. An endpoint it does not know answers 404, which the engine sees as a permanent
 * effect failure: the run then escalates, and the replay must still hold.
 */
export class MemoryGitHub {
  readonly calls: { method: string; params: unknown }[] = [];
  private nextId = 100;
  private readonly comments: { id: number; body: string }[] = [];
  private readonly checkRuns: { id: number; head_sha: string; external_id: string; output: { annotations_count: number } }[] = [];
  private readonly pulls: { number: number; head: { ref: string; sha: string }; html_url: string; node_id: string; draft: boolean; user: { login: string }; requested_reviewers: [] }[] = [];
  /** `method` → how many of its next calls fail with a 502 first. */
  readonly flaky = new Map<string, number>();

  private readonly handlers: Record<string, (p: any) => unknown> = {
    "repos.get": () => ({ default_branch: "main" }),
    "repos.getCombinedStatusForRef": () => ({ state: "success", statuses: [], commit_url: "" }),
    "issues.listComments": () => this.comments,
    "issues.createComment": (p) => {
      const c = { id: this.nextId++, body: p.body };
      this.comments.push(c);
      return c;
    },
    "issues.updateComment": (p) => {
      const c = this.comments.find((x) => x.id === p.comment_id);
      if (!c) throw Object.assign(new Error("Not Found"), { status: 404 });
      c.body = p.body;
      return c;
    },
    "issues.addLabels": () => [],
    "issues.addAssignees": () => ({}),
    "pulls.list": (p) => this.pulls.filter((x) => `octo:${x.head.ref}` === p.head),
    "pulls.create": (p) => {
      const pr = { number: 12, head: { ref: p.head, sha: "head" }, html_url: "https://github.com/octo/app/pull/12", node_id: "PR_12", draft: true, user: { login: "shopfloor[bot]" }, requested_reviewers: [] as [] };
      this.pulls.push(pr);
      return pr;
    },
    "pulls.get": (p) => this.pulls.find((x) => x.number === p.pull_number),
    "pulls.listReviews": () => [],
    "pulls.createReview": () => ({ id: this.nextId++ }),
    "pulls.requestReviewers": () => ({}),
    "checks.listForRef": (p) => ({ total_count: 0, check_runs: this.checkRuns.filter((c) => c.head_sha === p.ref) }),
    "checks.listSuitesForRef": () => ({ total_count: 0, check_suites: [] }),
    "checks.listAnnotations": () => [],
    "checks.create": (p) => {
      const c = { id: this.nextId++, head_sha: p.head_sha, external_id: p.external_id, output: { annotations_count: 0 } };
      this.checkRuns.push(c);
      return c;
    },
    "checks.update": (p) => ({ id: p.check_run_id }),
  };

  private call(method: string, params: unknown): { data: unknown } {
    this.calls.push({ method, params });
    const flaky = this.flaky.get(method) ?? 0;
    if (flaky > 0) {
      this.flaky.set(method, flaky - 1);
      throw Object.assign(new Error("Bad Gateway"), { status: 502 });
    }
    const handler = this.handlers[method];
    if (!handler) throw Object.assign(new Error(`not modelled: ${method}`), { status: 404 });
    return { data: handler(params) };
  }

  octokit(): InstallationOctokit {
    const rest = new Proxy(
      {},
      {
        get: (_, ns: string) =>
          new Proxy(
            {},
            {
              get: (__, name: string) => {
                const fn = async (params: unknown) => this.call(`${ns}.${name}`, params);
                return Object.assign(fn, { endpoint: { merge: () => ({}) }, method: `${ns}.${name}` });
              },
            },
          ),
      },
    );
    const paginate = async (fn: (p: unknown) => Promise<{ data: unknown }>, params: unknown) => {
      const { data } = await fn(params);
      if (Array.isArray(data)) return data;
      const list = Object.values(data as object).find(Array.isArray);
      return list ?? [];
    };
    const graphql = async (query: string, vars: unknown) => {
      this.calls.push({ method: "graphql", params: { query, vars } });
      if (/markPullRequestReadyForReview/.test(query)) return { markPullRequestReadyForReview: { pullRequest: { isDraft: false } } };
      return { node: { isDraft: true } };
    };
    return { rest, paginate, graphql } as unknown as InstallationOctokit;
  }
}

import { readFile } from "node:fs/promises";
import { ProbotOctokit } from "probot";
import type { InstallationOctokit } from "../github/octokit.js";
import { writeFileAtomic } from "../store/atomic.js";
import { githubRoutes, LocalGitHubSchema, type LocalGitHub, type LocalIssue, type LocalWrite, type ModelAnswer, type ModelRequest } from "./github-model.js";

export interface StandInOptions {
  /** Where what "GitHub" holds is kept, so a resumed run finds its comments, PR and gate again. */
  statePath: string;
  repo: { owner: string; name: string };
  /** The issue whose run this process serves: its base branch is the repository's default branch. */
  issue: number;
  /** A file of the repository at a branch (`.github/shopfloor.yml` on the base), or undefined. */
  readFile(branch: string, path: string): Promise<string | undefined>;
  /** Told about every write, after it is kept. */
  onWrite?(write: LocalWrite): void;
}

/**
 * GitHub for a run on a local repository. Effects talk to GitHub through an Octokit, so they
 * get a real one (Probot's, with its config reader, pagination and GraphQL client) whose every
 * request is answered here, in process, from the small model in github-model.ts. The hook is
 * the outermost wrap, so no request reaches auth, throttling or the network.
 */
export class GitHubStandIn {
  readonly octokit: InstallationOctokit;
  private writes: Promise<void> = Promise.resolve();
  private readonly routes: ReturnType<typeof githubRoutes>;

  private constructor(
    private readonly opts: StandInOptions,
    readonly state: LocalGitHub,
  ) {
    this.routes = githubRoutes(state, opts.repo, opts.issue);
    const octokit = new ProbotOctokit({ auth: { token: "local-stand-in" }, log: quietLog });
    octokit.hook.wrap("request", async (_request, options) => {
      const endpoint = octokit.request.endpoint(options as unknown as Parameters<typeof octokit.request.endpoint>[1] & { method: string; url: string });
      const url = new URL(endpoint.url);
      const req: ModelRequest = {
        method: endpoint.method,
        // GitHub Enterprise's API root (`/api/v3`) is not part of the route.
        path: url.pathname.replace(/^\/api\/v3(?=\/)/, ""),
        query: url.searchParams,
        body: (typeof endpoint.body === "string" ? JSON.parse(endpoint.body) : endpoint.body) ?? {},
      };
      const result = await this.answer(req);
      if (result.wrote) await this.keep(result.wrote);
      if (result.status >= 400) throw Object.assign(new Error(`${(result.data as { message?: string }).message ?? "error"} (local stand-in)`), { status: result.status });
      return { status: result.status, url: endpoint.url, headers: result.headers ?? {}, data: result.data };
    });
    this.octokit = octokit as InstallationOctokit;
  }

  /** The stand-in with what an earlier process left, or empty. */
  static async open(opts: StandInOptions): Promise<GitHubStandIn> {
    const text = await readFile(opts.statePath, "utf8").catch(() => undefined);
    return new GitHubStandIn(opts, LocalGitHubSchema.parse(text ? JSON.parse(text) : {}));
  }

  /** The issue this process serves, as it was opened. */
  issue(): LocalIssue | undefined {
    return this.state.issues[String(this.opts.issue)];
  }

  /**
   * The task given on the command line becomes the issue. Kept (`keep`) just before the run is
   * requested; until then it is only read, so a task refused for a missing key uses up no number.
   */
  async openIssue(issue: LocalIssue, opts: { keep: boolean }): Promise<void> {
    this.state.issues[String(this.opts.issue)] = issue;
    if (opts.keep) await this.keep(undefined);
  }

  /** Writes reach the file in order, each before its request is answered (a Ctrl-C loses none). */
  private keep(write: LocalWrite | undefined): Promise<void> {
    const snapshot = JSON.stringify(this.state, null, 1);
    this.writes = this.writes.then(() => writeFileAtomic(this.opts.statePath, snapshot));
    return this.writes.then(() => {
      if (write) this.opts.onWrite?.(write);
    });
  }

  private async answer(req: ModelRequest): Promise<ModelAnswer> {
    if (req.method === "GET" && req.path.includes("/contents/")) return this.contents(req.path);
    for (const [method, path, answer] of this.routes) {
      const match = method === req.method ? path.exec(req.path) : null;
      if (match) return answer(req, match);
    }
    // A request nobody modelled is a bug to see, not a 404 an effect would take for "absent".
    throw new Error(`the local GitHub stand-in does not model ${req.method} ${req.path}`);
  }

  /** Files of the repository's default branch (the issue's base); any other repository (the owner's `.github`) has none. */
  private async contents(path: string): Promise<ModelAnswer> {
    const own = `/repos/${this.opts.repo.owner}/${this.opts.repo.name}/contents/`;
    const base = this.issue()?.base;
    const file = path.startsWith(own) && base !== undefined ? await this.opts.readFile(base, decodeURIComponent(path.slice(own.length))) : undefined;
    if (file === undefined) return { status: 404, data: { message: "Not Found" } };
    return { status: 200, data: file, headers: { "content-type": "application/vnd.github.raw" } };
  }
}

const quietLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

import { z } from "zod";

/**
 * What GitHub would hold for runs on a local repository: the issues' comments and labels, the
 * pull requests, their reviews and the gate check runs. The engine's effects write it through
 * the stand-in Octokit (github-stand-in.ts); the terminal view and the report read it.
 */
export const LocalGitHubSchema = z.object({
  nextId: z.number().int().default(1),
  /** The tasks given on the command line, by number, with the branch each run starts from. */
  issues: z.record(z.string(), z.object({ title: z.string(), body: z.string(), base: z.string(), createdAt: z.string() })).default({}),
  comments: z.array(z.object({ id: z.number().int(), issue: z.number().int(), body: z.string() })).default([]),
  labels: z.record(z.string(), z.array(z.string())).default({}),
  assignees: z.record(z.string(), z.array(z.string())).default({}),
  pulls: z
    .array(
      z.object({
        number: z.number().int(),
        head: z.string(),
        base: z.string(),
        title: z.string(),
        body: z.string(),
        draft: z.boolean(),
        requestedReviewers: z.array(z.string()).default([]),
      }),
    )
    .default([]),
  reviews: z
    .array(
      z.object({
        id: z.number().int(),
        pull: z.number().int(),
        commitId: z.string(),
        body: z.string(),
        comments: z.array(z.object({ path: z.string(), line: z.number().int(), body: z.string() })).default([]),
      }),
    )
    .default([]),
  checkRuns: z
    .array(
      z.object({
        id: z.number().int(),
        name: z.string(),
        headSha: z.string(),
        externalId: z.string(),
        status: z.string(),
        conclusion: z.string().nullable(),
        title: z.string(),
        summary: z.string(),
        annotations: z.array(z.record(z.string(), z.unknown())).default([]),
      }),
    )
    .default([]),
});
export type LocalGitHub = z.infer<typeof LocalGitHubSchema>;
export type LocalIssue = LocalGitHub["issues"][string];
export type LocalPull = LocalGitHub["pulls"][number];
export type LocalCheckRun = LocalGitHub["checkRuns"][number];

/** A request as Octokit resolved it: method, the path below the API root, query, and JSON body. */
export interface ModelRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, any>;
}

export interface ModelAnswer {
  status: number;
  data: unknown;
  headers?: Record<string, string>;
  /** What changed, for whoever watches (the terminal view); absent for reads. */
  wrote?: LocalWrite;
}

/** A write someone watching the run would notice on GitHub. */
export type LocalWrite =
  | { kind: "comment"; issue: number; body: string }
  | { kind: "pull"; pull: LocalPull }
  | { kind: "review"; pull: number; body: string }
  | { kind: "check"; run: LocalCheckRun }
  | { kind: "labels"; issue: number; labels: string[] };

/** The App's bot, as GitHub stamps what it writes: `writtenByApp` trusts a bot account when no App id is known. */
const bot = { login: "shopfloor[bot]", type: "Bot" };

const notFound: ModelAnswer = { status: 404, data: { message: "Not Found" } };

type Route = [method: string, path: RegExp, answer: (req: ModelRequest, m: RegExpExecArray) => ModelAnswer];

/**
 * The endpoints Shopfloor's effects use, answered from `state` (changed in place). `repo` is the
 * only repository there is; another (the owner's `.github` fallback of the config reader) has
 * nothing. Its default branch is the one the run's issue starts from.
 */
export function githubRoutes(state: LocalGitHub, repo: { owner: string; name: string }, issue: number): Route[] {
  const full = `/repos/${escape(repo.owner)}/${escape(repo.name)}`;
  const id = () => state.nextId++;
  const pullJson = (p: LocalPull) => ({
    number: p.number,
    node_id: `PR_${p.number}`,
    html_url: `local:pull/${p.number}`,
    state: "open",
    draft: p.draft,
    title: p.title,
    body: p.body,
    head: { ref: p.head },
    base: { ref: p.base },
    user: bot,
    requested_reviewers: p.requestedReviewers.map((login) => ({ login })),
  });
  const checkJson = (c: LocalCheckRun) => ({
    id: c.id,
    name: c.name,
    head_sha: c.headSha,
    external_id: c.externalId,
    status: c.status,
    conclusion: c.conclusion,
    output: { title: c.title, summary: c.summary, annotations_count: c.annotations.length },
    app: null,
  });
  const route = (method: string, tail: string, answer: Route[2]): Route => [method, new RegExp(`^${full}${tail}$`), answer];
  return [
    ["POST", /^\/app\/installations\/\d+\/access_tokens$/, () => ({ status: 201, data: { token: "local-stand-in", expires_at: new Date(Date.now() + 3_600_000).toISOString() } })],
    route("GET", "", () => ({
      status: 200,
      data: { name: repo.name, full_name: `${repo.owner}/${repo.name}`, owner: { login: repo.owner }, default_branch: state.issues[String(issue)]?.base, html_url: `local:${repo.name}` },
    })),
    route("GET", "/issues/(\\d+)/comments", (_r, m) => ({
      status: 200,
      data: state.comments.filter((c) => c.issue === Number(m[1])).map((c) => ({ id: c.id, body: c.body, user: bot, performed_via_github_app: null })),
    })),
    route("POST", "/issues/(\\d+)/comments", (r, m) => {
      const comment = { id: id(), issue: Number(m[1]), body: String(r.body.body) };
      state.comments.push(comment);
      return { status: 201, data: { id: comment.id, body: comment.body, user: bot }, wrote: { kind: "comment", issue: comment.issue, body: comment.body } };
    }),
    route("PATCH", "/issues/comments/(\\d+)", (r, m) => {
      const comment = state.comments.find((c) => c.id === Number(m[1]));
      if (!comment) return notFound;
      comment.body = String(r.body.body);
      return { status: 200, data: { id: comment.id, body: comment.body, user: bot }, wrote: { kind: "comment", issue: comment.issue, body: comment.body } };
    }),
    route("POST", "/issues/comments/(\\d+)/reactions", (r) => ({ status: 201, data: { id: id(), content: r.body.content } })),
    route("POST", "/issues/(\\d+)/labels", (r, m) => {
      const labels = [...new Set([...(state.labels[m[1]!] ?? []), ...(r.body.labels as string[])])];
      state.labels[m[1]!] = labels;
      return { status: 200, data: labels.map((name) => ({ name })), wrote: { kind: "labels", issue: Number(m[1]), labels } };
    }),
    route("DELETE", "/issues/(\\d+)/labels/([^/]+)", (_r, m) => {
      const name = decodeURIComponent(m[2]!);
      const had = state.labels[m[1]!] ?? [];
      if (!had.includes(name)) return notFound;
      state.labels[m[1]!] = had.filter((l) => l !== name);
      return { status: 200, data: [], wrote: { kind: "labels", issue: Number(m[1]), labels: state.labels[m[1]!]! } };
    }),
    route("POST", "/issues/(\\d+)/assignees", (r, m) => {
      state.assignees[m[1]!] = [...new Set([...(state.assignees[m[1]!] ?? []), ...(r.body.assignees as string[])])];
      return { status: 201, data: { number: Number(m[1]) } };
    }),
    route("GET", "/pulls", (r) => {
      const head = (r.query.get("head") ?? "").split(":").slice(1).join(":");
      return { status: 200, data: state.pulls.filter((p) => p.head === head).map(pullJson) };
    }),
    route("POST", "/pulls", (r) => {
      const pull = { number: nextNumber(state), head: String(r.body.head), base: String(r.body.base), title: String(r.body.title), body: String(r.body.body ?? ""), draft: r.body.draft === true, requestedReviewers: [] };
      state.pulls.push(pull);
      return { status: 201, data: pullJson(pull), wrote: { kind: "pull", pull } };
    }),
    route("GET", "/pulls/(\\d+)", (_r, m) => {
      const pull = state.pulls.find((p) => p.number === Number(m[1]));
      return pull ? { status: 200, data: pullJson(pull) } : notFound;
    }),
    route("POST", "/pulls/(\\d+)/requested_reviewers", (r, m) => {
      const pull = state.pulls.find((p) => p.number === Number(m[1]));
      if (!pull) return notFound;
      pull.requestedReviewers = [...new Set([...pull.requestedReviewers, ...(r.body.reviewers as string[])])];
      return { status: 201, data: pullJson(pull), wrote: { kind: "pull", pull } };
    }),
    route("GET", "/pulls/(\\d+)/reviews", (_r, m) => ({
      status: 200,
      data: state.reviews.filter((v) => v.pull === Number(m[1])).map((v) => ({ id: v.id, body: v.body, state: "COMMENTED", commit_id: v.commitId, user: bot })),
    })),
    route("POST", "/pulls/(\\d+)/reviews", (r, m) => {
      const comments = ((r.body.comments ?? []) as { path: string; line: number; body: string }[]).map((c) => ({ path: c.path, line: c.line, body: c.body }));
      const review = { id: id(), pull: Number(m[1]), commitId: String(r.body.commit_id), body: String(r.body.body ?? ""), comments };
      state.reviews.push(review);
      return { status: 200, data: { id: review.id, body: review.body, state: "COMMENTED" }, wrote: { kind: "review", pull: review.pull, body: review.body } };
    }),
    route("GET", "/commits/([^/]+)/check-runs", (r, m) => {
      const name = r.query.get("check_name");
      const runs = state.checkRuns.filter((c) => c.headSha === m[1] && (name === null || c.name === name)).map(checkJson);
      return { status: 200, data: { total_count: runs.length, check_runs: runs } };
    }),
    route("POST", "/check-runs", (r) => {
      const run: LocalCheckRun = {
        id: id(),
        name: String(r.body.name),
        headSha: String(r.body.head_sha),
        externalId: String(r.body.external_id ?? ""),
        status: String(r.body.status ?? "queued"),
        conclusion: (r.body.conclusion as string | undefined) ?? null,
        title: String(r.body.output?.title ?? ""),
        summary: String(r.body.output?.summary ?? ""),
        annotations: r.body.output?.annotations ?? [],
      };
      state.checkRuns.push(run);
      return { status: 201, data: checkJson(run), wrote: { kind: "check", run } };
    }),
    route("PATCH", "/check-runs/(\\d+)", (r, m) => {
      const run = state.checkRuns.find((c) => c.id === Number(m[1]));
      if (!run) return notFound;
      if (r.body.status !== undefined) run.status = String(r.body.status);
      if (r.body.conclusion !== undefined) run.conclusion = String(r.body.conclusion);
      if (r.body.output) {
        run.title = String(r.body.output.title ?? run.title);
        run.summary = String(r.body.output.summary ?? run.summary);
        run.annotations = [...run.annotations, ...(r.body.output.annotations ?? [])];
      }
      return { status: 200, data: checkJson(run), wrote: { kind: "check", run } };
    }),
    route("GET", "/check-runs/(\\d+)/annotations", (_r, m) => ({ status: 200, data: state.checkRuns.find((c) => c.id === Number(m[1]))?.annotations ?? [] })),
    // A local repository has no other apps' CI: no suites, no statuses.
    route("GET", "/commits/([^/]+)/check-suites", () => ({ status: 200, data: { total_count: 0, check_suites: [] } })),
    route("GET", "/commits/([^/]+)/status", () => ({ status: 200, data: { state: "pending", statuses: [], total_count: 0, commit_url: "" } })),
    ["POST", /^\/graphql$/, (r) => graphql(state, r.body)],
  ];
}

/** Issues and pull requests share one sequence of numbers, as on GitHub. */
export function nextNumber(state: LocalGitHub): number {
  return Math.max(0, ...Object.keys(state.issues).map(Number), ...state.pulls.map((p) => p.number)) + 1;
}

/** The two GraphQL calls Shopfloor makes: a PR's draft flag, and marking it ready. */
function graphql(state: LocalGitHub, body: Record<string, any>): ModelAnswer {
  const nodeId = String(body.variables?.id ?? "");
  const pull = state.pulls.find((p) => `PR_${p.number}` === nodeId);
  if (!pull) return { status: 200, data: { data: { node: null } } };
  if (/markPullRequestReadyForReview/.test(String(body.query))) {
    pull.draft = false;
    return { status: 200, data: { data: { markPullRequestReadyForReview: { pullRequest: { isDraft: false } } } }, wrote: { kind: "pull", pull } };
  }
  return { status: 200, data: { data: { node: { isDraft: pull.draft } } } };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

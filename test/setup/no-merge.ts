/**
 * Suite-wide guard: Shopfloor never merges. Any request to a merge endpoint fails the test that
 * made it, whether or not some nock interceptor would have answered it.
 *
 * Octokit (Probot 14) and the model SDKs call `globalThis.fetch` at request time, and nock 14
 * intercepts by replacing that same global (through @mswjs/interceptors) when it is imported. So
 * the guard wraps `fetch` after nock: it sees every request first, mocked or not, and delegates
 * the rest untouched, leaving every other test's interceptors alone. `nock.restore()` puts the
 * pre-nock fetch back, so the wrap is renewed before each test. Requests made with `node:http`
 * directly are caught when nock finds no interceptor for them ('no match').
 *
 * The offending request is refused with `MergeAttemptError` and recorded; `afterEach` fails the
 * test even if the code under test swallowed the error.
 */
import nock from "nock";
import { afterEach, beforeEach } from "vitest";

export class MergeAttemptError extends Error {
  override name = "MergeAttemptError";
}

const restMerges: { methods: string[]; path: RegExp; what: string }[] = [
  { methods: ["PUT"], path: /\/repos\/[^/]+\/[^/]+\/pulls\/[^/]+\/merge\/?$/, what: "merge a pull request" },
  { methods: ["POST"], path: /\/repos\/[^/]+\/[^/]+\/merges\/?$/, what: "merge a branch" },
  { methods: ["POST"], path: /\/repos\/[^/]+\/[^/]+\/merge-upstream\/?$/, what: "merge upstream into a branch" },
  { methods: ["PUT", "POST", "PATCH"], path: /\/auto-merge\/?$/, what: "enable auto-merge" },
];
export const mergeMutations = ["mergePullRequest", "enablePullRequestAutoMerge", "mergeBranch", "enqueuePullRequest"];
const mutationPattern = new RegExp(`\\b(${mergeMutations.join("|")})\\b`);

/** What the request would merge, or undefined when it is not a merge. */
export function mergeAttempt(method: string, url: string, body?: string): string | undefined {
  const verb = method.toUpperCase();
  let path: string;
  try {
    path = new URL(url, "http://localhost").pathname;
  } catch {
    path = url;
  }
  for (const m of restMerges) if (m.methods.includes(verb) && m.path.test(path)) return `${verb} ${path} (${m.what})`;
  if (verb === "POST" && /\/graphql\/?$/.test(path) && body !== undefined) {
    const name = mutationPattern.exec(graphqlQuery(body))?.[1];
    if (name) return `POST ${path} (GraphQL ${name})`;
  }
  return undefined;
}

function graphqlQuery(body: string): string {
  try {
    const parsed = JSON.parse(body) as { query?: unknown };
    return typeof parsed.query === "string" ? parsed.query : body;
  } catch {
    return body;
  }
}

const attempts: string[] = [];

/** The merge attempts recorded since the last call, which clears them: for a test that makes one on purpose. */
export function takeMergeAttempts(): string[] {
  return attempts.splice(0);
}

const guardMark = Symbol.for("shopfloor.no-merge-guard");
type Fetch = typeof globalThis.fetch;

export function installFetchGuard(): void {
  const inner = globalThis.fetch as Fetch & { [guardMark]?: true };
  if (inner[guardMark]) return;
  const guarded = async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const method = init?.method ?? request?.method ?? "GET";
    const url = request ? request.url : String(input);
    const hit = mergeAttempt(method, url, await bodyText(input, init, url));
    if (hit) {
      attempts.push(hit);
      throw new MergeAttemptError(`Shopfloor never merges, but a request tried to: ${hit}`);
    }
    return inner(input, init);
  };
  Object.assign(guarded, { [guardMark]: true });
  globalThis.fetch = guarded as Fetch;
}

/** The body only where a merge can hide in it (GraphQL), and only when it is text. */
async function bodyText(input: Parameters<Fetch>[0], init: Parameters<Fetch>[1] | undefined, url: string): Promise<string | undefined> {
  if (!/\/graphql\/?(\?|$)/.test(url)) return undefined;
  if (typeof init?.body === "string") return init.body;
  if (init?.body instanceof Uint8Array) return new TextDecoder().decode(init.body);
  if (input instanceof Request && init?.body === undefined) return input.clone().text();
  return undefined;
}

nock.emitter.on("no match", (req: { method?: string; path?: string; href?: string; options?: { method?: string; path?: string } }) => {
  const method = req.method ?? req.options?.method ?? "GET";
  const where = req.href ?? req.path ?? req.options?.path ?? "";
  const hit = mergeAttempt(method, where);
  if (hit) attempts.push(hit);
});

installFetchGuard();
beforeEach(() => installFetchGuard());
afterEach(() => {
  const seen = takeMergeAttempts();
  if (seen.length > 0) throw new MergeAttemptError(`Shopfloor never merges, but this test made merge requests:\n${seen.join("\n")}`);
});

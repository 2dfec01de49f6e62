/** One request Shopfloor made to GitHub, as `/metrics` counts it. */
export interface GitHubRequest {
  method: string;
  /** The route template (`/repos/{owner}/{repo}/issues/{issue_number}`), not the filled-in path. */
  route: string;
  /** The HTTP status; 0 when no answer came back (network error, timeout). */
  status: number;
  /** `x-ratelimit-remaining`: requests left in the current window, when GitHub said. */
  rateLimitRemaining?: number;
  /** `x-ratelimit-resource`: which quota that was (`core`, `graphql`, `search`, …). */
  rateLimitResource?: string;
}

export type GitHubRequestListener = (request: GitHubRequest) => void;

interface RequestOptions {
  method?: string;
  url?: string;
}
type Headers = Record<string, string | number | undefined>;

/** What of an Octokit is needed: its request hooks (before-after-hook). */
export interface Hookable {
  hook: {
    after(name: "request", fn: (response: { status: number; headers: Headers }, options: RequestOptions) => void): void;
    error(name: "request", fn: (error: unknown, options: RequestOptions) => unknown): void;
  };
}

/** Marks a client already metered (metering one twice would count each request twice); a property, not a WeakSet entry per client. */
const metered = Symbol("shopfloor.metered");

/**
 * Tells `listener` about every request `octokit` makes, answered or failed, with what GitHub
 * said of its rate limit. Hooked outside Octokit's throttling and retry plugins, so a request
 * they retried counts once, with its final status. Metering a client again changes nothing:
 * the first listener keeps it. A listener that throws never changes what the caller gets.
 */
export function meterRequests(octokit: Hookable & { [metered]?: true }, listener: GitHubRequestListener): void {
  if (octokit[metered]) return;
  octokit[metered] = true;
  const tell = (options: RequestOptions, status: number, headers: Headers | undefined) => {
    try {
      listener({ method: (options.method ?? "GET").toUpperCase(), route: options.url ?? "", status, ...rateLimitOf(headers) });
    } catch {
      // Metrics must never fail a request.
    }
  };
  octokit.hook.after("request", (response, options) => tell(options, response.status, response.headers));
  octokit.hook.error("request", (error, options) => {
    const response = (error as { response?: { status: number; headers: Headers } } | null)?.response;
    tell(options, response?.status ?? 0, response?.headers);
    throw error;
  });
}

/**
 * The same as an Octokit plugin, for the client class Probot builds every installation's client
 * from: `ShopfloorOctokit.plugin(requestMeterPlugin(listener))`.
 */
export function requestMeterPlugin(listener: GitHubRequestListener) {
  return (octokit: Hookable): Record<string, never> => {
    meterRequests(octokit, listener);
    return {};
  };
}

function rateLimitOf(headers: Headers | undefined): Pick<GitHubRequest, "rateLimitRemaining" | "rateLimitResource"> {
  const remaining = Number(headers?.["x-ratelimit-remaining"] ?? Number.NaN);
  const resource = headers?.["x-ratelimit-resource"];
  return {
    ...(Number.isFinite(remaining) && { rateLimitRemaining: remaining }),
    ...(resource !== undefined && { rateLimitResource: String(resource) }),
  };
}

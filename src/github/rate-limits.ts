import { ProbotOctokit } from "probot";

/**
 * How long a request may wait in place for a secondary rate limit to pass. Longer waits are
 * not sat out inside a request (a webhook handler has 10 s, an effect holds its run's lock):
 * the error goes up, is classified `rate_limit` with its wait, and the engine retries later.
 */
const maxInPlaceWaitSeconds = 90;
/** Secondary limits come in bursts; two waits in place cover one, more is a sign to back off. */
const maxInPlaceRetries = 2;

interface LimitedRequest {
  method: string;
  url: string;
}
interface Logged {
  log: { warn(message: string): void };
}

/**
 * Probot 14 hands every client throttle options whose `onSecondaryRateLimit` only logs, so a
 * secondary limit fails the request at once. These handlers wait it out when the wait is short.
 * A primary quota is never waited out in place: it resets up to an hour later.
 */
export const rateLimitHandlers = {
  onSecondaryRateLimit(retryAfter: number, options: LimitedRequest, octokit: Logged, retryCount: number): boolean {
    const retry = retryCount < maxInPlaceRetries && retryAfter <= maxInPlaceWaitSeconds;
    octokit.log.warn(`GitHub secondary rate limit on ${options.method} ${options.url}: ${retry ? `retrying in ${retryAfter} s` : "giving up for now, the run retries later"}`);
    return retry;
  },
  onRateLimit(retryAfter: number, options: LimitedRequest, octokit: Logged): boolean {
    octokit.log.warn(`GitHub rate limit quota exhausted on ${options.method} ${options.url} for ${retryAfter} s; the run retries after the reset`);
    return false;
  },
};

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

/**
 * The client class for `run`/`createProbot`. The function form of `defaults` runs after Probot's
 * own options are merged in, so these handlers replace Probot's instead of being replaced.
 */
export const ShopfloorOctokit: typeof ProbotOctokit = ProbotOctokit.defaults((options: OctokitOptions) => ({
  ...options,
  throttle: { ...options?.throttle, ...rateLimitHandlers },
}));

import { hostname } from "node:os";

/**
 * The name a runner goes by in queue health (`/metrics`, `shopfloor doctor`): `SHOPFLOOR_RUNNER_NAME`,
 * or `host:pid`, unique per process on a machine. Redis client names take no spaces, so none are kept.
 */
export function runnerName(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.SHOPFLOOR_RUNNER_NAME?.trim();
  return (chosen ? chosen : `${hostname()}:${process.pid}`).replace(/\s+/g, "-");
}

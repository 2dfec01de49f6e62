import type { Failure } from "./failure.js";

/**
 * The one place an error becomes a typed `Failure`. It reads what SDK and HTTP errors
 * expose (status, headers, code, name) without importing any SDK.
 */
export function classifyFailure(error: unknown): Failure {
  if (isFailure(error)) return error;
  const e = (error ?? {}) as {
    status?: unknown;
    code?: unknown;
    name?: unknown;
    message?: unknown;
    headers?: unknown;
    response?: { headers?: unknown };
    cause?: unknown;
  };
  const detail = typeof e.message === "string" && e.message ? e.message : String(error);
  const status = typeof e.status === "number" ? e.status : undefined;
  if (status === 403 || status === 429) {
    const limited = rateLimit(status, e.headers ?? e.response?.headers, detail);
    if (limited) return { class: "transient", reason: "rate_limit", detail, ...limited };
  }
  if (
    status === 408 ||
    ["APIConnectionTimeoutError", "TimeoutError", "AbortError", "APIUserAbortError"].includes(String(e.name)) ||
    e.code === "ETIMEDOUT"
  ) {
    return { class: "transient", reason: "timeout", detail };
  }
  if (status !== undefined && (status >= 500 || status === 529)) {
    return { class: "transient", reason: "server_error", detail };
  }
  if (
    e.name === "APIConnectionError" ||
    ["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "UND_ERR_SOCKET"].includes(String(e.code))
  ) {
    return { class: "transient", reason: "network", detail };
  }
  // A review of a commit a force-push replaced: the next try reads the PR's head again.
  if (status === 422 && /not part of the pull request/i.test(detail)) {
    return { class: "transient", reason: "conflict", detail: `HTTP 422: ${detail}` };
  }
  if (status !== undefined && status >= 400) {
    return { class: "permanent", reason: "invalid_output", detail: `HTTP ${status}: ${detail}` };
  }
  return { class: "permanent", reason: "bug", detail };
}

export function isFailure(value: unknown): value is Failure {
  const v = value as Partial<Failure> | null;
  return (
    typeof v === "object" && v !== null && (v.class === "transient" || v.class === "permanent") &&
    typeof v.reason === "string" && typeof v.detail === "string"
  );
}

/** GitHub asks to wait at least a minute after a secondary rate limit that names no wait. */
const secondaryLimitWaitMs = 60_000;
const secondaryLimitMessage = /secondary rate limit|abuse detection/i;

/**
 * A 403 or 429 that is GitHub (or a model provider) asking us to slow down, with the wait it
 * asked for; undefined for a 403 that is a refusal. GitHub signals a limit three ways: a
 * `retry-after`, an exhausted quota (`x-ratelimit-remaining: 0`, wait until `x-ratelimit-reset`,
 * epoch seconds), or the secondary rate limit's message alone.
 */
function rateLimit(status: number, headers: unknown, detail: string): { retryAfterMs?: number } | undefined {
  const after = retryAfter(headers);
  if (after !== undefined) return { retryAfterMs: after };
  if (header(headers, "x-ratelimit-remaining") === "0") {
    const reset = Number(header(headers, "x-ratelimit-reset"));
    return Number.isFinite(reset) && reset > 0 ? { retryAfterMs: Math.max(0, Math.ceil(reset * 1000 - Date.now())) } : {};
  }
  if (secondaryLimitMessage.test(detail)) return { retryAfterMs: secondaryLimitWaitMs };
  return status === 429 ? {} : undefined;
}

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const v = (headers as Record<string, unknown>)[name];
  return typeof v === "string" || typeof v === "number" ? String(v) : undefined;
}

/** `retry-after` is seconds or an HTTP date; `retry-after-ms` is what OpenAI sends too. */
function retryAfter(headers: unknown): number | undefined {
  const get = (name: string) => header(headers, name);
  const ms = get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Math.round(Number(ms)));
  const value = get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

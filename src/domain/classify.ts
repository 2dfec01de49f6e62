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
    cause?: unknown;
  };
  const detail = typeof e.message === "string" && e.message ? e.message : String(error);
  const status = typeof e.status === "number" ? e.status : undefined;
  if (status === 429) {
    const retryAfterMs = retryAfter(e.headers);
    return { class: "transient", reason: "rate_limit", detail, ...(retryAfterMs !== undefined && { retryAfterMs }) };
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

/** `retry-after` is seconds or an HTTP date; `retry-after-ms` is what OpenAI sends too. */
function retryAfter(headers: unknown): number | undefined {
  const get = (name: string): string | null | undefined => {
    if (!headers) return undefined;
    if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
    const v = (headers as Record<string, unknown>)[name];
    return typeof v === "string" ? v : undefined;
  };
  const ms = get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Math.round(Number(ms)));
  const value = get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { classifyFailure, type Failure } from "../../src/domain/index.js";
import { reflection, retryVerdict, sameFailure, type RetryPolicy } from "../../src/orchestrator/retry.js";

const httpError = (status: number, message = `status ${status}`, headers?: unknown) => Object.assign(new Error(message), { status, ...(headers !== undefined && { headers }) });
const named = (name: string, message = name) => Object.assign(new Error(message), { name });
const coded = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe("classifyFailure", () => {
  afterEach(() => vi.useRealTimers());

  it("reads a 429's retry-after in seconds", () => {
    expect(classifyFailure(httpError(429, "Too Many Requests", { "retry-after": "7" }))).toEqual({
      class: "transient",
      reason: "rate_limit",
      detail: "Too Many Requests",
      retryAfterMs: 7000,
    });
    expect(classifyFailure(httpError(429, "slow", { "retry-after": "1.5" })).retryAfterMs).toBe(1500);
  });

  it("reads a 429's retry-after as an HTTP date, from fetch Headers too", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-21T10:00:00.000Z"));
    const headers = new Headers({ "retry-after": new Date("2026-11-21T10:00:30.000Z").toUTCString() });
    expect(classifyFailure(httpError(429, "slow", headers))).toMatchObject({ reason: "rate_limit", retryAfterMs: 30_000 });
    // A date already past means "now", never a negative wait.
    expect(classifyFailure(httpError(429, "slow", { "retry-after": "Sat, 21 Nov 2026 09:00:00 GMT" })).retryAfterMs).toBe(0);
  });

  it("prefers retry-after-ms, as OpenAI sends it, over retry-after", () => {
    expect(classifyFailure(httpError(429, "slow", { "retry-after-ms": "1250", "retry-after": "9" })).retryAfterMs).toBe(1250);
  });

  it("leaves retryAfterMs out when the server gave none, or gave nonsense", () => {
    expect(classifyFailure(httpError(429))).toEqual({ class: "transient", reason: "rate_limit", detail: "status 429" });
    expect("retryAfterMs" in classifyFailure(httpError(429, "x", { "retry-after": "soon" }))).toBe(false);
  });

  const table: [string, unknown, Pick<Failure, "class" | "reason">][] = [
    ["408", httpError(408), { class: "transient", reason: "timeout" }],
    ["500", httpError(500), { class: "transient", reason: "server_error" }],
    ["502", httpError(502), { class: "transient", reason: "server_error" }],
    ["503", httpError(503), { class: "transient", reason: "server_error" }],
    ["529 (Anthropic overloaded)", httpError(529), { class: "transient", reason: "server_error" }],
    ["APIConnectionError", named("APIConnectionError", "Connection error."), { class: "transient", reason: "network" }],
    ["APIConnectionTimeoutError", named("APIConnectionTimeoutError", "Request timed out."), { class: "transient", reason: "timeout" }],
    ["AbortError", named("AbortError", "This operation was aborted"), { class: "transient", reason: "timeout" }],
    ["TimeoutError", named("TimeoutError"), { class: "transient", reason: "timeout" }],
    ["ETIMEDOUT", coded("ETIMEDOUT"), { class: "transient", reason: "timeout" }],
    ["ECONNRESET", coded("ECONNRESET"), { class: "transient", reason: "network" }],
    ["ECONNREFUSED", coded("ECONNREFUSED"), { class: "transient", reason: "network" }],
    ["ENOTFOUND", coded("ENOTFOUND"), { class: "transient", reason: "network" }],
    ["400", httpError(400), { class: "permanent", reason: "invalid_output" }],
    ["401", httpError(401), { class: "permanent", reason: "invalid_output" }],
    ["404", httpError(404), { class: "permanent", reason: "invalid_output" }],
    ["422", httpError(422), { class: "permanent", reason: "invalid_output" }],
    ["a plain Error (a bug)", new TypeError("Cannot read properties of undefined"), { class: "permanent", reason: "bug" }],
    ["a thrown string", "kaboom", { class: "permanent", reason: "bug" }],
    ["undefined", undefined, { class: "permanent", reason: "bug" }],
  ];
  for (const [what, error, expected] of table) {
    it(`classifies ${what} as ${expected.class} / ${expected.reason}`, () => {
      expect(classifyFailure(error)).toMatchObject(expected);
    });
  }

  it("keeps the status in the detail of a permanent HTTP failure", () => {
    expect(classifyFailure(httpError(422, "Validation Failed")).detail).toBe("HTTP 422: Validation Failed");
    expect(classifyFailure("kaboom").detail).toBe("kaboom");
  });

  it("passes an already-typed Failure through unchanged", () => {
    const failure: Failure = { class: "transient", reason: "worker_lost", detail: "runner died", retryAfterMs: 10 };
    expect(classifyFailure(failure)).toBe(failure);
  });
});

describe("retryVerdict", () => {
  const policy: RetryPolicy = { maxAttempts: 10, baseDelayMs: 1_000, maxDelayMs: 60_000 };
  const transient = (detail = "503", retryAfterMs?: number): Failure => ({ class: "transient", reason: "server_error", detail, ...(retryAfterMs !== undefined && { retryAfterMs }) });
  const delay = (v: ReturnType<typeof retryVerdict>): number => {
    if (!v.retry) throw new Error(`expected a retry, got: ${v.why}`);
    return v.delayMs;
  };

  it("doubles the backoff on each attempt", () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => delay(retryVerdict(transient(`e${attempt}`), attempt, undefined, 0, policy)));
    // jitter 0 is the low end: half the exponential.
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000]);
  });

  it("caps the backoff at maxDelayMs, whatever the attempt", () => {
    expect(delay(retryVerdict(transient(), 9, undefined, 0.999999, policy))).toBe(60_000);
    expect(delay(retryVerdict(transient(), 9, undefined, 0, policy))).toBe(30_000);
  });

  it("spreads the backoff by jitter within [0.5x, 1x] of the exponential", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, jitter) => {
        const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
        const d = delay(retryVerdict(transient(), attempt, undefined, jitter, policy));
        expect(d).toBeGreaterThanOrEqual(exponential * 0.5);
        expect(d).toBeLessThanOrEqual(exponential);
      }),
      { numRuns: 200 },
    );
  });

  it("waits as long as the server asked when that is longer than the backoff, and no longer otherwise", () => {
    expect(delay(retryVerdict(transient("429", 45_000), 1, undefined, 0.5, policy))).toBe(45_000);
    expect(delay(retryVerdict(transient("429", 100), 1, undefined, 0.5, policy))).toBe(750);
  });

  it("never retries a permanent failure, even on the first attempt", () => {
    for (const reason of ["blocked", "invalid_output", "policy_violation", "budget_exhausted", "bug"] as const) {
      expect(retryVerdict({ class: "permanent", reason, detail: "x" }, 1, undefined, 0.5, policy)).toEqual({ retry: false, why: `permanent failure (${reason})` });
    }
  });

  it("stops on the same failure twice in a row, but retries a different one", () => {
    const once = transient("socket hang up");
    expect(retryVerdict(transient("socket hang up"), 2, once, 0.5, policy)).toEqual({ retry: false, why: "the same failure twice in a row (server_error)" });
    expect(retryVerdict(transient("502 Bad Gateway"), 2, once, 0.5, policy).retry).toBe(true);
  });

  it("stops when the attempts are used up", () => {
    const three: RetryPolicy = { ...policy, maxAttempts: 3 };
    expect(retryVerdict(transient(), 2, undefined, 0.5, three).retry).toBe(true);
    expect(retryVerdict(transient(), 3, undefined, 0.5, three)).toEqual({ retry: false, why: "3 of 3 attempts used" });
    expect(retryVerdict(transient(), 1, undefined, 0.5, { ...policy, maxAttempts: 1 })).toEqual({ retry: false, why: "1 of 1 attempts used" });
  });
});

describe("sameFailure", () => {
  const base: Failure = { class: "transient", reason: "timeout", detail: "30 s" };
  it.each([
    ["identical", base, true],
    ["only retryAfterMs differs", { ...base, retryAfterMs: 5 }, true],
    ["another detail", { ...base, detail: "31 s" }, false],
    ["another reason", { ...base, reason: "network" as const }, false],
    ["another class", { ...base, class: "permanent" as const }, false],
  ])("%s → %s", (_what, other, same) => {
    expect(sameFailure(base, other)).toBe(same);
    expect(sameFailure(other, base)).toBe(same);
  });
});

describe("reflection", () => {
  it("names the attempt, the failure, what changes, and asks not to repeat it", () => {
    const text = reflection({ class: "transient", reason: "timeout", detail: "npm test ran 10 minutes" }, 2);
    expect(text.split("\n")).toEqual([
      "Attempt 2 failed: transient / timeout: npm test ran 10 minutes",
      "What changes now: Work in smaller steps and finish sooner; do not start long-running commands.",
      "Before acting, ask yourself: am I about to repeat what failed?",
    ]);
  });

  it("has advice for every failure reason", () => {
    const reasons = ["timeout", "rate_limit", "server_error", "network", "worker_lost", "blocked", "low_confidence", "invalid_output", "failed_review", "budget_exhausted", "policy_violation", "no_change", "bug"] as const;
    for (const reason of reasons) {
      expect(reflection({ class: "permanent", reason, detail: "d" }, 1)).toMatch(/What changes now: \S.+/);
    }
  });

  it("cuts a long failure detail to 1000 characters", () => {
    const text = reflection({ class: "permanent", reason: "invalid_output", detail: "x".repeat(5000) }, 1);
    expect(text.split("\n")[0]).toBe(`Attempt 1 failed: permanent / invalid_output: ${"x".repeat(1000)}`);
  });
});

import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { classifyFailure, type Run } from "../../src/domain/index.js";
import { executeEffect, type EffectContext } from "../../src/orchestrator/effects/index.js";
import { defaultRetryPolicy, retryVerdict } from "../../src/orchestrator/retry.js";
import { requestedRun } from "../orchestrator/fixtures.js";
import { api, fenceGitHub, testOctokit } from "../github/kit.js";

const commentsPath = "/repos/octo/app/issues/7/comments";
const secondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

let github: ReturnType<typeof fenceGitHub>;
let run: Run;
beforeEach(() => {
  github = fenceGitHub();
  run = requestedRun();
});
afterEach(() => github.close());

const ctx: EffectContext = {
  octokitFor: async () => testOctokit(),
  queue: {} as EffectContext["queue"],
  loadRepoConfig: async () => ({ ok: false, errors: [] }),
  traceExcerpt: async () => "",
};

/** The progress comment effect against a GitHub that answers the first request with `status` and `headers`. */
async function progressCommentAnswering(status: number, message: string, headers: Record<string, string> = {}) {
  nock(api).get(commentsPath).query(true).reply(status, { message, documentation_url: "https://docs.github.com/rest" }, headers);
  const answer = await executeEffect(run, { kind: "upsertProgressComment", key: `${run.id}:upsertProgressComment:1`, body: "Working on it" }, ctx);
  github.verify();
  if (answer.type !== "effect.failed") throw new Error(`expected a failure, got ${answer.type}`);
  return answer.failure;
}

describe("GitHub's rate limits are waited out, not escalated", () => {
  it("a secondary rate limit with retry-after is retried no sooner than GitHub asked", async () => {
    const failure = await progressCommentAnswering(403, secondaryMessage, { "retry-after": "120" });
    expect(failure).toMatchObject({ class: "transient", reason: "rate_limit", retryAfterMs: 120_000 });
    const verdict = retryVerdict(failure, 1, undefined, 0, defaultRetryPolicy);
    expect(verdict).toEqual({ retry: true, delayMs: 120_000 });
  });

  it("a secondary rate limit that names no wait waits GitHub's minute", async () => {
    const failure = await progressCommentAnswering(403, secondaryMessage);
    expect(failure).toMatchObject({ class: "transient", reason: "rate_limit", retryAfterMs: 60_000 });
    expect(retryVerdict(failure, 1, undefined, 0.5, defaultRetryPolicy)).toMatchObject({ retry: true });
  });

  it("an exhausted quota waits until x-ratelimit-reset", async () => {
    const reset = Math.floor(Date.now() / 1000) + 600;
    const failure = await progressCommentAnswering(403, "API rate limit exceeded for installation ID 42.", {
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(reset),
    });
    expect(failure.class).toBe("transient");
    expect(failure.reason).toBe("rate_limit");
    expect(failure.retryAfterMs).toBeGreaterThan(590_000);
    expect(failure.retryAfterMs).toBeLessThanOrEqual(600_000);
    const verdict = retryVerdict(failure, 1, undefined, 0, defaultRetryPolicy);
    expect(verdict.retry && verdict.delayMs).toBeGreaterThan(590_000);
  });

  it("a 429 with retry-after is a rate limit too", async () => {
    const failure = await progressCommentAnswering(429, "Too many requests", { "retry-after": "7" });
    expect(failure).toMatchObject({ class: "transient", reason: "rate_limit", retryAfterMs: 7_000 });
  });

  it("a 403 that is a refusal stays permanent, so the run escalates", async () => {
    const failure = await progressCommentAnswering(403, "Resource not accessible by integration", { "x-ratelimit-remaining": "4999" });
    expect(failure.class).toBe("permanent");
    expect(retryVerdict(failure, 1, undefined, 0, defaultRetryPolicy)).toMatchObject({ retry: false });
  });

  it("reads a model SDK's Headers object as well", () => {
    const error = Object.assign(new Error("rate limited"), { status: 429, headers: new Headers({ "retry-after-ms": "1500" }) });
    expect(classifyFailure(error)).toMatchObject({ class: "transient", reason: "rate_limit", retryAfterMs: 1500 });
  });
});

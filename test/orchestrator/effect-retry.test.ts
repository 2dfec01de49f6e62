import { describe, expect, it } from "vitest";
import type { Effect, Failure } from "../../src/domain/index.js";
import { Driver, at, runId } from "./fixtures.js";

const secondary: Failure = { class: "transient", reason: "rate_limit", detail: "HTTP 403: You have exceeded a secondary rate limit", retryAfterMs: 60_000 };

describe("GitHub's rate limits on a busy installation", () => {
  it("an effect that hits the secondary limit again and again is retried after each wait, not escalated as 'the same failure twice'", () => {
    const d = new Driver();
    d.toReview(0);
    for (let i = 0; i < 2; i++) {
      const gate = d.pending("publishGate");
      const effects = d.step({ type: "effect.failed", runId, at, key: gate.key, failure: secondary, jitter: 0.5 });
      const again = effects.find((e): e is Extract<Effect, { kind: "publishGate" }> => e.kind === "publishGate");
      expect(again, `try ${i + 2} was not scheduled`).toBeDefined();
      expect(Date.parse(again!.notBefore!) - Date.parse(at)).toBeGreaterThanOrEqual(60_000);
      expect(d.run!.phase).toBe("reviewing");
    }
  });

  it("rate limits spread over a run's life do not add up to an escalation", () => {
    const d = new Driver();
    d.toReview(0);
    // Each review post fails once on the limit and then goes through: three separate writes.
    for (const reviewer of ["r1", "r2"]) {
      d.review(reviewer, "approve");
      const post = d.run!.pending.find((e) => e.kind === "postReview")!;
      d.step({ type: "effect.failed", runId, at, key: post.key, failure: secondary, jitter: 0.5 });
      const retried = d.run!.pending.find((e) => e.kind === "postReview")!;
      d.step({ type: "effect.done", runId, at, key: retried.key });
    }
    const progress = d.run!.pending.find((e) => e.kind === "publishGate")!;
    d.step({ type: "effect.failed", runId, at, key: progress.key, failure: secondary, jitter: 0.5 });
    expect(d.run!.phase).not.toBe("escalated");
  });

  it("a permanent refusal still goes to a person naming the App's permissions; a transient one that never clears says so", () => {
    const refused = new Driver();
    refused.toReview(0);
    refused.step({ type: "effect.failed", runId, at, key: refused.pending("publishGate").key, failure: { class: "permanent", reason: "invalid_output", detail: "HTTP 403: Resource not accessible by integration" } });
    expect(refused.run!.phase).toBe("escalated");
    expect(refused.run!.question).toContain("permissions");

    const busy = new Driver();
    busy.toReview(0);
    for (let i = 0; i < 5 && busy.run!.phase !== "escalated"; i++) {
      busy.step({ type: "effect.failed", runId, at, key: busy.pending("publishGate").key, failure: { class: "transient", reason: "server_error", detail: `HTTP 502 #${i}` }, jitter: 0.5 });
    }
    expect(busy.run!.phase).toBe("escalated");
    expect(busy.run!.question).not.toContain("permissions");
  });
});

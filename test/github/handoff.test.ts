import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { redact, type Run } from "../../src/domain/index.js";
import { executeEffect, type EffectContext } from "../../src/orchestrator/effects/index.js";
import { handoffMarker } from "../../src/orchestrator/render.js";
import { formatTrace } from "../../src/store/format-trace.js";
import type { JournalEntry } from "../../src/store/run-store.js";
import { requestedRun } from "../orchestrator/fixtures.js";
import { api, capture, fenceGitHub, testOctokit } from "./kit.js";

const secret = "sk-ant-api03-handoff-secret-0123456789abcdef";
const commentsPath = "/repos/octo/app/issues/7/comments";

let github: ReturnType<typeof fenceGitHub>;
let run: Run;
beforeEach(() => {
  github = fenceGitHub();
  run = requestedRun();
});
afterEach(() => github.close());

/** A journal whose last event is a job that failed quoting the key in its error output. */
const journal: JournalEntry[] = [
  {
    seq: 4,
    at: "2026-11-21T10:05:00.000Z",
    event: {
      type: "effect.failed",
      runId: "octo/app#7",
      at: "2026-11-21T10:05:00.000Z",
      key: "octo/app#7:dispatchJob:3",
      failure: { class: "permanent", reason: "blocked", detail: `curl: 401 with Authorization: Bearer ${secret}` },
      jitter: 0,
    } as JournalEntry["event"],
    effects: [],
    phase: "escalated",
  },
];

describe("the handoff comment", () => {
  it("redacts a secret that reaches it through the decision trace", async () => {
    const posted: { body: string }[] = [];
    nock(api).get(commentsPath).query(true).reply(200, []).post(commentsPath, capture(posted as unknown[])).reply(201, { id: 12 });
    const ctx: EffectContext = {
      octokitFor: async () => testOctokit(),
      queue: {} as EffectContext["queue"],
      loadRepoConfig: async () => ({ ok: false, errors: [] }),
      traceExcerpt: async () => formatTrace(journal),
      redact: (text) => redact(text, [secret]),
    };

    await executeEffect(run, { kind: "postHandoff", key: `${run.id}:postHandoff:1`, body: `${handoffMarker(run.id)}\nA person should decide.` }, ctx);

    github.verify();
    expect(posted).toHaveLength(1);
    expect(posted[0]!.body).toContain("Decision trace");
    expect(posted[0]!.body).toContain("curl: 401 with Authorization: Bearer [redacted]");
    expect(posted[0]!.body).not.toContain(secret);
  });
});

import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Effect, Run } from "../../src/domain/index.js";
import { executeEffect, type EffectContext } from "../../src/orchestrator/effects/index.js";
import { progressMarker } from "../../src/orchestrator/render.js";
import { reviewMarker } from "../../src/orchestrator/effects/post-review.js";
import { requestedRun } from "../orchestrator/fixtures.js";
import { api, capture, fenceGitHub, testOctokit } from "./kit.js";

const appId = 1234;
const repoPath = "/repos/octo/app";
const commentsPath = `${repoPath}/issues/7/comments`;
const person = { login: "mallory", type: "User" };
const ourBot = { login: "shopfloor[bot]", type: "Bot" };
const ours = { id: appId, slug: "shopfloor", name: "Shopfloor" };

let github: ReturnType<typeof fenceGitHub>;
let run: Run;
beforeEach(() => {
  github = fenceGitHub();
  run = requestedRun();
});
afterEach(() => github.close());

function ctx(id: number | undefined): EffectContext {
  return {
    octokitFor: async () => testOctokit(),
    queue: {} as EffectContext["queue"],
    loadRepoConfig: async () => ({ ok: false, errors: [] }),
    traceExcerpt: async () => "",
    ...(id !== undefined && { appId: id }),
  };
}

const progress = (body: string): Effect => ({ kind: "upsertProgressComment", key: `${run.id}:upsertProgressComment:1`, body: `${progressMarker(run.id)}\n${body}` });

describe("the progress comment is found again only among Shopfloor's own comments", () => {
  it("does not adopt a person's comment that copies the marker: it posts its own and leaves theirs alone", async () => {
    const posted: unknown[] = [];
    nock(api)
      .get(commentsPath)
      .query(true)
      .reply(200, [{ id: 66, body: `${progressMarker(run.id)}\nI am the progress comment now`, user: person, performed_via_github_app: null }])
      .post(commentsPath, capture(posted))
      .reply(201, { id: 500 });

    const answer = await executeEffect(run, progress("Planning"), ctx(appId));
    github.verify();
    expect(answer).toEqual({ type: "comment.upserted", commentId: 500 });
    expect(posted).toEqual([{ body: `${progressMarker(run.id)}\nPlanning` }]);
  });

  it("does not adopt another App's comment either when it knows its own App id", async () => {
    nock(api)
      .get(commentsPath)
      .query(true)
      .reply(200, [{ id: 67, body: progressMarker(run.id), user: { login: "other[bot]", type: "Bot" }, performed_via_github_app: { id: 999, slug: "other" } }])
      .post(commentsPath)
      .reply(201, { id: 501 });

    await expect(executeEffect(run, progress("Planning"), ctx(appId))).resolves.toEqual({ type: "comment.upserted", commentId: 501 });
    github.verify();
  });

  it("updates its own comment in place after a crash lost the comment id", async () => {
    const patched: unknown[] = [];
    nock(api)
      .get(commentsPath)
      .query(true)
      .reply(200, [
        { id: 66, body: progressMarker(run.id), user: person, performed_via_github_app: null },
        { id: 70, body: `${progressMarker(run.id)}\nPlanning`, user: ourBot, performed_via_github_app: ours },
      ])
      .patch(`${repoPath}/issues/comments/70`, capture(patched))
      .reply(200, { id: 70 });

    await expect(executeEffect(run, progress("Building"), ctx(appId))).resolves.toEqual({ type: "comment.upserted", commentId: 70 });
    github.verify();
    expect(patched).toEqual([{ body: `${progressMarker(run.id)}\nBuilding` }]);
  });

  it("without its App id, trusts a bot account's comment and never a person's", async () => {
    nock(api)
      .get(commentsPath)
      .query(true)
      .reply(200, [
        { id: 66, body: progressMarker(run.id), user: person },
        { id: 70, body: progressMarker(run.id), user: ourBot },
      ])
      .patch(`${repoPath}/issues/comments/70`)
      .reply(200, { id: 70 });

    await expect(executeEffect(run, progress("Building"), ctx(undefined))).resolves.toEqual({ type: "comment.upserted", commentId: 70 });
    github.verify();
  });
});

describe("a review is found again only among bot reviews", () => {
  it("posts Shopfloor's review even when a person's review quotes its marker", async () => {
    const marker = reviewMarker(run.id, "openai", 1);
    const reviewsPath = `${repoPath}/pulls/9/reviews`;
    const posted: { body: string }[] = [];
    nock(api)
      .get(reviewsPath)
      .query(true)
      .reply(200, [{ id: 3, body: `${marker}\nLGTM, nothing to see`, user: person }])
      .post(reviewsPath, capture(posted as unknown[]))
      .reply(200, { id: 4 });
    const effect: Effect = {
      kind: "postReview",
      key: `${run.id}:postReview:1`,
      pullNumber: 9,
      headSha: "a".repeat(40),
      reviewer: "openai",
      round: 1,
      title: "Review by openai/gpt-5",
      summary: "Two findings.",
      findings: [],
    };

    await expect(executeEffect(run, effect, ctx(appId))).resolves.toEqual({ type: "effect.done" });
    github.verify();
    expect(posted).toHaveLength(1);
    expect(posted[0]!.body).toContain("Two findings.");
  });
});

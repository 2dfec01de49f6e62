import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findOrCreatePullRequest } from "../../src/github/pulls.js";
import { postReview, type ReviewToPost } from "../../src/github/reviews.js";
import { classifyFailure } from "../../src/domain/index.js";
import { api, at, capture, fenceGitHub, testOctokit } from "./kit.js";

/** What replicas racing on one run see from GitHub: the loser of a PR creation, a review of a replaced commit. */
let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

const pullsPath = `/repos/${at.owner}/${at.repo}/pulls`;
const pr = { head: "shopfloor/1-add-farewell", base: "main", title: "Add farewell", body: "Closes #1" };
const alreadyExists = {
  message: "Validation Failed",
  errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${at.owner}:${pr.head}.` }],
  documentation_url: "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
};

describe("findOrCreatePullRequest when another replica opens the PR first", () => {
  it("finds the PR the other replica opened instead of failing", async () => {
    nock(api)
      .get(pullsPath)
      .query(true)
      .reply(200, [])
      .post(pullsPath)
      .reply(422, alreadyExists)
      .get(pullsPath)
      .query({ head: `${at.owner}:${pr.head}`, state: "all", per_page: "10" })
      .reply(200, [{ number: 12, html_url: "https://github.com/Codertocat/Hello-World/pull/12", head: { ref: pr.head } }]);

    await expect(findOrCreatePullRequest(testOctokit(), at, pr)).resolves.toEqual({ number: 12, url: "https://github.com/Codertocat/Hello-World/pull/12" });
    github.verify();
  });

  it("still fails on any other refusal of the creation", async () => {
    nock(api)
      .get(pullsPath)
      .query(true)
      .reply(200, [])
      .post(pullsPath)
      .reply(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "invalid", field: "base" }] });

    const error = await findOrCreatePullRequest(testOctokit(), at, pr).catch((e: unknown) => e);
    expect(classifyFailure(error).class).toBe("permanent");
    github.verify();
  });
});

const reviewsPath = `${pullsPath}/7/reviews`;
const oldHead = "a".repeat(40);
const newHead = "b".repeat(40);
const review: ReviewToPost = {
  pullNumber: 7,
  headSha: oldHead,
  marker: "<!-- shopfloor:review:Codertocat/Hello-World#1:openai:1 -->",
  title: "Review by openai/gpt-5",
  summary: "Looks right.",
  findings: [{ file: "src/a.ts", line: 3, severity: "high", body: "Off by one.", onDiff: true }],
};
const notPartOfPr = { message: "Unprocessable Entity", errors: ["commit_id is not part of the pull request"], documentation_url: "https://docs.github.com/rest" };

describe("postReview when the branch moved under the review", () => {
  it("posts the review on the PR's current head, findings in the body, saying which commit was read", async () => {
    const bodies: { commit_id: string; body: string; comments: unknown[] }[] = [];
    nock(api)
      .get(reviewsPath)
      .query(true)
      .reply(200, [])
      .post(reviewsPath)
      .reply(422, notPartOfPr)
      .get(`${pullsPath}/7`)
      .reply(200, { number: 7, head: { sha: newHead, ref: "shopfloor/1-add-farewell" } })
      .post(reviewsPath, capture(bodies as unknown[]))
      .reply(200, { id: 31 });

    await expect(postReview(testOctokit(), at, review)).resolves.toBe(31);
    github.verify();
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.commit_id).toBe(newHead);
    expect(bodies[0]!.comments).toEqual([]);
    expect(bodies[0]!.body).toContain("`src/a.ts:3` **high**: Off by one.");
    expect(bodies[0]!.body).toContain(oldHead.slice(0, 12));
  });

  it("is a transient failure, not a permanent one, when GitHub still refuses the commit", () => {
    const error = Object.assign(new Error("Unprocessable Entity: \"commit_id is not part of the pull request\""), { status: 422 });
    expect(classifyFailure(error)).toMatchObject({ class: "transient" });
  });
});

import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { markReadyForReview, requestReviewers } from "../../src/github/ready.js";
import { api, at, capture, fenceGitHub, testOctokit } from "./kit.js";

const pullPath = `/repos/${at.owner}/${at.repo}/pulls/7`;
const reviewersPath = `${pullPath}/requested_reviewers`;
const markReady = `mutation ($id: ID!) {
  markPullRequestReadyForReview(input: { pullRequestId: $id }) {
    pullRequest {
      isDraft
    }
  }
}`;
const isDraft = `query ($id: ID!) {
  node(id: $id) {
    ... on PullRequest {
      isDraft
    }
  }
}`;

let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

describe("markReadyForReview", () => {
  it("undrafts a draft PR found by number with the GraphQL mutation on its node id", async () => {
    const bodies: unknown[] = [];
    nock(api)
      .get(pullPath)
      .reply(200, { number: 7, draft: true, node_id: "PR_kwDOAbc" })
      .post("/graphql", capture(bodies))
      .reply(200, { data: { markPullRequestReadyForReview: { pullRequest: { isDraft: false } } } });

    await expect(markReadyForReview(testOctokit(), { ...at, number: 7 })).resolves.toEqual({ changed: true });
    github.verify();
    expect(bodies).toEqual([{ query: markReady, variables: { id: "PR_kwDOAbc" } }]);
  });

  it("changes nothing on a PR that is already ready", async () => {
    nock(api).get(pullPath).reply(200, { number: 7, draft: false, node_id: "PR_kwDOAbc" });

    await expect(markReadyForReview(testOctokit(), { ...at, number: 7 })).resolves.toEqual({ changed: false });
    github.verify();
  });

  it("reads the draft flag by node id before undrafting", async () => {
    const bodies: unknown[] = [];
    nock(api)
      .post("/graphql", capture(bodies))
      .reply(200, { data: { node: { isDraft: true } } })
      .post("/graphql", capture(bodies))
      .reply(200, { data: { markPullRequestReadyForReview: { pullRequest: { isDraft: false } } } });

    await expect(markReadyForReview(testOctokit(), "PR_kwDOAbc")).resolves.toEqual({ changed: true });
    github.verify();
    expect(bodies).toEqual([
      { query: isDraft, variables: { id: "PR_kwDOAbc" } },
      { query: markReady, variables: { id: "PR_kwDOAbc" } },
    ]);
  });
});

describe("requestReviewers", () => {
  const pr = { number: 7, user: { login: "shopfloor[bot]" }, requested_reviewers: [{ login: "Octocat" }] };

  it("asks everyone once, skipping the author and those already asked", async () => {
    const bodies: unknown[] = [];
    nock(api).get(pullPath).reply(200, pr).post(reviewersPath, capture(bodies)).reply(201, {});

    const result = await requestReviewers(testOctokit(), at, 7, ["alice", "shopfloor[bot]", "octocat", "bob", "Alice"]);
    github.verify();
    expect(bodies).toEqual([{ reviewers: ["alice", "bob"] }]);
    expect(result).toEqual({
      requested: ["alice", "bob"],
      skipped: [
        { login: "shopfloor[bot]", reason: "author" },
        { login: "octocat", reason: "already requested" },
      ],
    });
  });

  it("reports non-collaborators GitHub refuses (422) and still asks the others", async () => {
    const bodies: unknown[] = [];
    const refused = { message: "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the Codertocat/Hello-World repository." };
    nock(api)
      .get(pullPath)
      .reply(200, pr)
      .post(reviewersPath, capture(bodies))
      .reply(422, refused)
      .post(reviewersPath, capture(bodies))
      .reply(201, {})
      .post(reviewersPath, capture(bodies))
      .reply(422, refused);

    const result = await requestReviewers(testOctokit(), at, 7, ["alice", "stranger"]);
    github.verify();
    expect(bodies).toEqual([{ reviewers: ["alice", "stranger"] }, { reviewers: ["alice"] }, { reviewers: ["stranger"] }]);
    expect(result).toEqual({ requested: ["alice"], skipped: [{ login: "stranger", reason: "not a collaborator" }] });
  });

  it("makes no write when everyone is already asked", async () => {
    nock(api).get(pullPath).reply(200, pr);

    await expect(requestReviewers(testOctokit(), at, 7, ["octocat"])).resolves.toEqual({ requested: [], skipped: [{ login: "octocat", reason: "already requested" }] });
    github.verify();
  });

  it("fails on errors other than a refused reviewer", async () => {
    nock(api).get(pullPath).reply(200, pr).post(reviewersPath).reply(500, { message: "boom" });

    await expect(requestReviewers(testOctokit(), at, 7, ["alice"])).rejects.toMatchObject({ status: 500 });
    github.verify();
  });
});

import nock from "nock";
import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { meterRequests, requestMeterPlugin, type GitHubRequest } from "../../src/github/request-meter.js";
import { api, at, fenceGitHub, testOctokit } from "./kit.js";

let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

const issuePath = `/repos/${at.owner}/${at.repo}/issues/7`;
const limits = (remaining: number, resource = "core") => ({ "x-ratelimit-remaining": String(remaining), "x-ratelimit-resource": resource });

describe("meterRequests", () => {
  it("tells each request's method, route, status and the rate limit GitHub says is left", async () => {
    nock(api)
      .get(issuePath)
      .reply(200, { number: 7 }, limits(4990))
      .post(`${issuePath}/comments`)
      .reply(201, { id: 1 }, limits(4989))
      .post("/graphql")
      .reply(200, { data: { viewer: { login: "shopfloor[bot]" } } }, limits(4999, "graphql"));
    const seen: GitHubRequest[] = [];
    const octokit = testOctokit();
    meterRequests(octokit, (r) => seen.push(r));

    await octokit.rest.issues.get({ ...at, issue_number: 7 });
    await octokit.rest.issues.createComment({ ...at, issue_number: 7, body: "hello" });
    await octokit.graphql("query { viewer { login } }");

    github.verify();
    expect(seen).toEqual([
      { method: "GET", route: "/repos/{owner}/{repo}/issues/{issue_number}", status: 200, rateLimitRemaining: 4990, rateLimitResource: "core" },
      { method: "POST", route: "/repos/{owner}/{repo}/issues/{issue_number}/comments", status: 201, rateLimitRemaining: 4989, rateLimitResource: "core" },
      { method: "POST", route: "/graphql", status: 200, rateLimitRemaining: 4999, rateLimitResource: "graphql" },
    ]);
  });

  it("tells failed requests too, and the caller still gets the error", async () => {
    nock(api).get(issuePath).reply(404, { message: "Not Found" }, limits(4988)).get(issuePath).replyWithError("socket hang up");
    const seen: GitHubRequest[] = [];
    const octokit = testOctokit();
    meterRequests(octokit, (r) => seen.push(r));

    await expect(octokit.rest.issues.get({ ...at, issue_number: 7 })).rejects.toMatchObject({ status: 404 });
    await expect(octokit.rest.issues.get({ ...at, issue_number: 7 })).rejects.toThrow(/socket hang up/);

    github.verify();
    expect(seen).toEqual([
      { method: "GET", route: "/repos/{owner}/{repo}/issues/{issue_number}", status: 404, rateLimitRemaining: 4988, rateLimitResource: "core" },
      // No answer came back at all: status 0, and nothing is known of the rate limit.
      { method: "GET", route: "/repos/{owner}/{repo}/issues/{issue_number}", status: 0 },
    ]);
  });

  it("counts a request once however often the same client is metered", async () => {
    nock(api).get(issuePath).reply(200, { number: 7 }, limits(10));
    const seen: GitHubRequest[] = [];
    const octokit = testOctokit();
    meterRequests(octokit, (r) => seen.push(r));
    meterRequests(octokit, (r) => seen.push(r));
    await octokit.rest.issues.get({ ...at, issue_number: 7 });
    github.verify();
    expect(seen).toHaveLength(1);
  });

  it("never lets a listener that throws fail the request", async () => {
    nock(api).get(issuePath).reply(200, { number: 7 }).get(issuePath).reply(500, { message: "oops" });
    const octokit = testOctokit();
    meterRequests(octokit, () => {
      throw new Error("listener bug");
    });
    expect((await octokit.rest.issues.get({ ...at, issue_number: 7 })).data).toEqual({ number: 7 });
    await expect(octokit.rest.issues.get({ ...at, issue_number: 7 })).rejects.toMatchObject({ status: 500 });
    github.verify();
  });

  it("meters every client of a class given the plugin, as Probot builds one per installation", async () => {
    nock(api).get(issuePath).twice().reply(200, { number: 7 }, limits(77));
    const seen: GitHubRequest[] = [];
    const Metered = ProbotOctokit.plugin(requestMeterPlugin((r) => seen.push(r)));
    const client = () => new Metered({ auth: { token: "ghs_test" }, throttle: { enabled: false }, retry: { enabled: false } });
    await client().rest.issues.get({ ...at, issue_number: 7 });
    await client().rest.issues.get({ ...at, issue_number: 7 });
    github.verify();
    expect(seen.map((r) => [r.status, r.rateLimitRemaining])).toEqual([
      [200, 77],
      [200, 77],
    ]);
  });
});

import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readCi } from "../../src/github/ci.js";
import { api, at, fenceGitHub, testOctokit } from "./kit.js";

const sha = "c".repeat(40);
const html = `https://github.com/${at.owner}/${at.repo}`;
const repository = { html_url: html };
const ownAppId = 1234;
const suitesPath = `/repos/${at.owner}/${at.repo}/commits/${sha}/check-suites`;
const runsPath = `/repos/${at.owner}/${at.repo}/commits/${sha}/check-runs`;
const statusPath = `/repos/${at.owner}/${at.repo}/commits/${sha}/status`;

const suites = [
  { id: 10, app: { id: ownAppId, slug: "shopfloor", name: "Shopfloor" }, status: "completed", conclusion: "failure", latest_check_runs_count: 1, repository },
  // Subscribed to check suites but never creates a run: GitHub leaves it queued forever.
  { id: 11, app: { id: 77, slug: "idle-bot", name: "Idle Bot" }, status: "queued", conclusion: null, latest_check_runs_count: 0, repository },
  { id: 12, app: { id: 15368, slug: "github-actions", name: "GitHub Actions" }, status: "completed", conclusion: "failure", latest_check_runs_count: 2, repository },
  { id: 13, app: { id: 88, slug: "circleci", name: "CircleCI" }, status: "queued", conclusion: null, latest_check_runs_count: 1, repository },
];
const runs = [
  { id: 1, name: "Shopfloor gate", status: "completed", conclusion: "failure", html_url: `${html}/runs/1`, url: "u", check_suite: { id: 10 } },
  { id: 2, name: "build / lint", status: "completed", conclusion: "success", html_url: `${html}/actions/runs/5/job/2`, url: "u", check_suite: { id: 12 } },
  {
    id: 3,
    name: "build / test",
    status: "completed",
    conclusion: "failure",
    html_url: `${html}/actions/runs/5/job/3`,
    url: "u",
    check_suite: { id: 12 },
    output: { title: "1 test failed", summary: "farewell.test.js: expected 'Goodbye, Ann!'", text: null },
  },
];

let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

describe("readCi", () => {
  it("reads other apps' suites with runs, run by run, plus legacy statuses; our own app and idle suites do not count", async () => {
    nock(api)
      .get(suitesPath)
      .query({ per_page: "100" })
      .reply(200, { total_count: suites.length, check_suites: suites })
      .get(runsPath)
      .query({ filter: "latest", per_page: "100" })
      .reply(200, { total_count: runs.length, check_runs: runs })
      .get(statusPath)
      .query({ per_page: "100" })
      .reply(200, {
        state: "failure",
        commit_url: "c",
        statuses: [
          { context: "ci/jenkins", state: "error", target_url: "https://jenkins.example/job/1", description: "Build errored" },
          { context: "deploy/preview", state: "pending", target_url: null },
        ],
      });

    await expect(readCi(testOctokit(), at, sha, ownAppId)).resolves.toEqual([
      { name: "build / lint", app: "github-actions", status: "completed", conclusion: "success", url: `${html}/actions/runs/5/job/2`, details: "" },
      {
        name: "build / test",
        app: "github-actions",
        status: "completed",
        conclusion: "failure",
        url: `${html}/actions/runs/5/job/3`,
        details: "1 test failed\n\nfarewell.test.js: expected 'Goodbye, Ann!'",
      },
      { name: "CircleCI", app: "circleci", status: "queued", conclusion: null, url: `${html}/commit/${sha}/checks?check_suite_id=13`, details: "" },
      { name: "ci/jenkins", app: "commit-status", status: "completed", conclusion: "failure", url: "https://jenkins.example/job/1", details: "Build errored" },
      { name: "deploy/preview", app: "commit-status", status: "in_progress", conclusion: null, url: "c", details: "" },
    ]);
    github.verify();
  });

  it("does not list runs when no other app has any", async () => {
    nock(api)
      .get(suitesPath)
      .query(true)
      .reply(200, { total_count: 2, check_suites: suites.slice(0, 2) })
      .get(statusPath)
      .query(true)
      .reply(200, { state: "pending", commit_url: "c", statuses: [] });

    await expect(readCi(testOctokit(), at, sha, ownAppId)).resolves.toEqual([]);
    github.verify();
  });

  it("reads every check run and every commit status past the first page of 100", async () => {
    const page = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => ({ id: 100 + from + i, name: `shard ${from + i}`, status: "completed", conclusion: "success", html_url: `${html}/runs/${from + i}`, url: "u", check_suite: { id: 12 } }));
    const status = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ context: `legacy/${from + i}`, state: from + i === 140 ? "failure" : "success", target_url: null, description: null }));
    // GitHub's Link header repeats the request's query with the next page.
    const next = (path: string, query: string) => ({ link: `<${api}${path}?${query}&page=2>; rel="next", <${api}${path}?${query}&page=2>; rel="last"` });
    nock(api)
      .get(suitesPath)
      .query({ per_page: "100" })
      .reply(200, { total_count: 1, check_suites: [suites[2]] })
      .get(runsPath)
      .query({ filter: "latest", per_page: "100" })
      .reply(200, { total_count: 150, check_runs: page(100, 0) }, next(runsPath, "filter=latest&per_page=100"))
      .get(runsPath)
      .query({ filter: "latest", per_page: "100", page: "2" })
      .reply(200, { total_count: 150, check_runs: page(50, 100) })
      .get(statusPath)
      .query({ per_page: "100" })
      .reply(200, { state: "failure", commit_url: "c", url: "s", total_count: 150, statuses: status(100, 0) }, next(statusPath, "per_page=100"))
      .get(statusPath)
      .query({ per_page: "100", page: "2" })
      .reply(200, { state: "failure", commit_url: "c", url: "s", total_count: 150, statuses: status(50, 100) });

    const checks = await readCi(testOctokit(), at, sha, ownAppId);
    github.verify();
    const runsSeen = checks.filter((c) => c.app === "github-actions");
    const statusesSeen = checks.filter((c) => c.app === "commit-status");
    expect(runsSeen).toHaveLength(150);
    expect(runsSeen.at(-1)).toMatchObject({ name: "shard 149", conclusion: "success" });
    expect(statusesSeen).toHaveLength(150);
    // The one red status is on the second page: missing it would pass a red commit.
    expect(statusesSeen.filter((c) => c.conclusion !== "success")).toEqual([
      { name: "legacy/140", app: "commit-status", status: "completed", conclusion: "failure", url: "c", details: "" },
    ]);
  });

  it("never counts our own gate check, even when it shares a suite listing with CI", async () => {
    nock(api)
      .get(suitesPath)
      .query(true)
      .reply(200, { total_count: 2, check_suites: [suites[0], suites[2]] })
      .get(runsPath)
      .query(true)
      .reply(200, {
        total_count: 2,
        check_runs: [
          { ...runs[0], app: { id: ownAppId } },
          // A gate check listed under another suite id still belongs to our app.
          { ...runs[0], id: 9, check_suite: { id: 12 }, app: { id: ownAppId } },
          runs[1],
        ],
      })
      .get(statusPath)
      .query(true)
      .reply(200, { state: "pending", commit_url: "c", statuses: [] });

    const checks = await readCi(testOctokit(), at, sha, ownAppId);
    github.verify();
    expect(checks.map((c) => c.name)).toEqual(["build / lint"]);
  });
});


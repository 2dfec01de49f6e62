import { readdir, readFile } from "node:fs/promises";
import { request } from "node:http";
import { join, relative } from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MergeAttemptError, mergeAttempt, mergeMutations, takeMergeAttempts } from "../setup/no-merge.js";
import { api, at, fenceGitHub, testOctokit } from "./kit.js";

let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

describe("the suite-wide no-merge guard", () => {
  it("refuses a REST merge before nock sees it, even one a test mocked", async () => {
    const scope = nock(api).put(`/repos/${at.owner}/${at.repo}/pulls/1/merge`).reply(200, { merged: true });

    await expect(fetch(`${api}/repos/${at.owner}/${at.repo}/pulls/1/merge`, { method: "PUT", body: "{}" })).rejects.toBeInstanceOf(MergeAttemptError);
    await expect(testOctokit().rest.pulls.merge({ ...at, pull_number: 1 })).rejects.toThrow(/Shopfloor never merges/);
    expect(scope.isDone()).toBe(false);
    expect(takeMergeAttempts()).toEqual([
      "PUT /repos/Codertocat/Hello-World/pulls/1/merge (merge a pull request)",
      "PUT /repos/Codertocat/Hello-World/pulls/1/merge (merge a pull request)",
    ]);
  });

  it("refuses GraphQL merges and records them even when the caller swallows the error", async () => {
    const octokit = testOctokit();
    for (const mutation of ["mergePullRequest", "enablePullRequestAutoMerge", "mergeBranch"]) {
      await octokit.graphql(`mutation($id: ID!) { ${mutation}(input: { pullRequestId: $id }) { clientMutationId } }`, { id: "PR_1" }).catch(() => undefined);
    }
    expect(takeMergeAttempts()).toEqual([
      "POST /graphql (GraphQL mergePullRequest)",
      "POST /graphql (GraphQL enablePullRequestAutoMerge)",
      "POST /graphql (GraphQL mergeBranch)",
    ]);
  });

  it("catches a merge sent with node:http that nock does not answer", async () => {
    await new Promise<void>((resolve) => {
      const req = request({ host: "api.github.com", method: "POST", path: `/repos/${at.owner}/${at.repo}/merges` });
      req.on("error", () => resolve());
      req.end("{}");
    });
    expect(takeMergeAttempts()).toEqual(["POST /repos/Codertocat/Hello-World/merges (merge a branch)"]);
    github.unexpected.length = 0;
  });

  it("lets every other request through to the test's interceptors, untouched", async () => {
    nock(api)
      .get(`/repos/${at.owner}/${at.repo}/pulls/1/merge`)
      .reply(204)
      .post("/graphql", { query: "query { viewer { login } }" })
      .reply(200, { data: { viewer: { login: "octocat" } } });

    const octokit = testOctokit();
    await expect(octokit.rest.pulls.checkIfMerged({ ...at, pull_number: 1 })).resolves.toMatchObject({ status: 204 });
    await expect(octokit.graphql("query { viewer { login } }")).resolves.toEqual({ viewer: { login: "octocat" } });
    expect(takeMergeAttempts()).toEqual([]);
    github.verify();
  });

  it("knows every merge endpoint, on github.com and GHES paths", () => {
    expect(mergeAttempt("PUT", "https://ghe.example.com/api/v3/repos/o/r/pulls/9/merge")).toMatch(/merge a pull request/);
    expect(mergeAttempt("POST", "https://api.github.com/repos/o/r/merges")).toMatch(/merge a branch/);
    expect(mergeAttempt("PUT", "https://api.github.com/repos/o/r/pulls/9/auto-merge")).toMatch(/auto-merge/);
    expect(mergeAttempt("POST", "https://api.github.com/repos/o/r/merge-upstream")).toMatch(/upstream/);
    expect(mergeAttempt("POST", "https://ghe.example.com/api/graphql", JSON.stringify({ query: "mutation { enqueuePullRequest(input: {}) { clientMutationId } }" }))).toMatch(/enqueuePullRequest/);
    expect(mergeAttempt("GET", "https://api.github.com/repos/o/r/pulls/9/merge")).toBeUndefined();
    expect(mergeAttempt("POST", "https://api.github.com/graphql", JSON.stringify({ query: "query { repository { pullRequest { mergeable mergedAt } } }" }))).toBeUndefined();
  });
});

describe("the source", () => {
  const root = join(import.meta.dirname, "..", "..", "src");
  const forbidden: [RegExp, string][] = [
    [/\b(?:pulls|repos)\s*\.\s*(?:merge|mergeUpstream)\b/, "Octokit merge method"],
    [/\/pulls\/[^\s"'`]*\/merge\b(?!-)/, "REST merge route"],
    [/\/repos\/[^\s"'`]*\/merges\b/, "REST merges route"],
    [/auto-merge|merge-upstream/, "REST auto-merge or merge-upstream route"],
    [new RegExp(`\\b(?:${mergeMutations.join("|")})\\b`), "GraphQL merge mutation"],
  ];

  it("has no code path that merges: no merge endpoint, method or mutation name anywhere in src/", async () => {
    const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(20);
    const hits: string[] = [];
    for (const file of files) {
      const text = await readFile(join(root, file), "utf8");
      text.split("\n").forEach((line, i) => {
        for (const [pattern, what] of forbidden) if (pattern.test(line)) hits.push(`${relative(root, join(root, file))}:${i + 1}: ${what}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it("the scan would catch a merge if one were written", () => {
    const sample = ['await octokit.rest.pulls.merge({ owner, repo, pull_number })', 'octokit.request("PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge")', "mutation { enablePullRequestAutoMerge(input: $i) { clientMutationId } }"];
    for (const line of sample) expect(forbidden.some(([p]) => p.test(line))).toBe(true);
  });
});

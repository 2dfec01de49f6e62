import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkLimits, gateCheckName, publishGateCheck, validActions, type CheckAnnotation } from "../../src/github/checks.js";
import { api, at, capture, fenceGitHub, testOctokit } from "./kit.js";

const sha = "b".repeat(40);
const externalId = "Codertocat/Hello-World#1";
const listPath = `/repos/${at.owner}/${at.repo}/commits/${sha}/check-runs`;
const createPath = `/repos/${at.owner}/${at.repo}/check-runs`;
const listQuery = { check_name: gateCheckName, filter: "latest", per_page: "100" };
const retry = { label: "Retry", description: "Run the failed step again", identifier: "retry" };
const escalate = { label: "Escalate", description: "Hand this run to a person", identifier: "escalate" };

function annotations(n: number): CheckAnnotation[] {
  return Array.from({ length: n }, (_, i) => ({
    path: `src/f${i}.ts`,
    start_line: i + 1,
    end_line: i + 1,
    annotation_level: "warning",
    message: `annotation ${i}`,
    title: "Reviewer finding",
  }));
}

const ourRun = (annotationsCount = 0) => ({
  total_count: 1,
  check_runs: [{ id: 77, name: gateCheckName, external_id: externalId, output: { annotations_count: annotationsCount } }],
});

let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

describe("publishGateCheck", () => {
  it("creates the check in progress, then completes the same run with 120 annotations in batches of 50", async () => {
    const bodies: any[] = [];
    nock(api)
      .get(listPath)
      .query(listQuery)
      .reply(200, { total_count: 0, check_runs: [] })
      .post(createPath, capture(bodies))
      .reply(201, { id: 77 })
      .get(listPath)
      .query(listQuery)
      .reply(200, ourRun())
      .patch(`${createPath}/77`, capture(bodies))
      .times(3)
      .reply(200, { id: 77 });

    const octokit = testOctokit();
    await expect(
      publishGateCheck(octokit, at, { headSha: sha, externalId, status: "in_progress", title: "Gate: waiting", summary: "Reviews are running." }),
    ).resolves.toBe(77);
    const all = annotations(120);
    await expect(
      publishGateCheck(octokit, at, {
        headSha: sha,
        externalId,
        conclusion: "failure",
        title: "Gate: 2 of 9 failed",
        summary: "| item | state |",
        annotations: all,
        actions: [retry, escalate],
      }),
    ).resolves.toBe(77);
    github.verify();

    expect(bodies[0]).toEqual({
      name: gateCheckName,
      head_sha: sha,
      external_id: externalId,
      status: "in_progress",
      output: { title: "Gate: waiting", summary: "Reviews are running." },
    });
    const output = { title: "Gate: 2 of 9 failed", summary: "| item | state |" };
    expect(bodies[1]).toEqual({
      status: "completed",
      conclusion: "failure",
      completed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      output: { ...output, annotations: all.slice(0, 50) },
      actions: [retry, escalate],
    });
    expect(bodies[2]).toEqual({ output: { ...output, annotations: all.slice(50, 100) } });
    expect(bodies[3]).toEqual({ output: { ...output, annotations: all.slice(100) } });
  });

  it("keeps the existing callers' shape: a conclusion alone completes the check, with no buttons field", async () => {
    const bodies: any[] = [];
    nock(api).get(listPath).query(listQuery).reply(200, { total_count: 0, check_runs: [] }).post(createPath, capture(bodies)).reply(201, { id: 5 });

    await publishGateCheck(testOctokit(), at, { headSha: sha, externalId, conclusion: "success", title: "Gate passed", summary: "All green." });
    github.verify();
    expect(bodies).toEqual([
      {
        name: gateCheckName,
        head_sha: sha,
        external_id: externalId,
        status: "completed",
        conclusion: "success",
        completed_at: expect.any(String),
        output: { title: "Gate passed", summary: "All green." },
      },
    ]);
  });

  it("does not send again annotations GitHub already holds for the run (updates append them)", async () => {
    const all = annotations(3);
    const bodies: any[] = [];
    nock(api)
      .get(listPath)
      .query(listQuery)
      .reply(200, ourRun(2))
      .get(`${createPath}/77/annotations`)
      .query({ per_page: "100" })
      .reply(200, all.slice(0, 2).map((a) => ({ ...a, blob_href: "x", start_column: null, end_column: null, raw_details: null })))
      .patch(`${createPath}/77`, capture(bodies))
      .reply(200, { id: 77 });

    await publishGateCheck(testOctokit(), at, { headSha: sha, externalId, conclusion: "failure", title: "t", summary: "s", annotations: all });
    github.verify();
    expect(bodies[0].output.annotations).toEqual([all[2]]);
  });

  it("cuts title, summary, text and annotation messages to GitHub's limits", async () => {
    const bodies: any[] = [];
    nock(api).get(listPath).query(listQuery).reply(200, { total_count: 0, check_runs: [] }).post(createPath, capture(bodies)).reply(201, { id: 5 });

    await publishGateCheck(testOctokit(), at, {
      headSha: sha,
      externalId,
      conclusion: "action_required",
      title: "t".repeat(300),
      summary: "s".repeat(70_000),
      text: "x".repeat(70_000),
      annotations: [{ path: "a.ts", start_line: 1, end_line: 1, annotation_level: "failure", message: "m".repeat(70_000), title: "T".repeat(300) }],
    });
    github.verify();
    const { output } = bodies[0];
    expect(output.title).toHaveLength(checkLimits.title);
    expect(output.summary).toHaveLength(checkLimits.summary);
    expect(output.summary.endsWith("(cut to fit GitHub's limit)")).toBe(true);
    expect(output.text).toHaveLength(checkLimits.text);
    expect(output.annotations[0].message.length).toBeLessThanOrEqual(checkLimits.annotationMessage);
    expect(output.annotations[0].title).toHaveLength(checkLimits.annotationTitle);
  });

  it("refuses buttons GitHub would reject, before any request", async () => {
    expect(() => validActions([retry, escalate, retry, escalate])).toThrow(/at most 3 actions/);
    expect(() => validActions([{ ...retry, label: "R".repeat(21) }])).toThrow(/label \(1\.\.20\)/);
    expect(() => validActions([{ ...retry, description: "d".repeat(41) }])).toThrow(/description \(1\.\.40\)/);
    expect(() => validActions([{ ...retry, identifier: "i".repeat(21) }])).toThrow(/identifier \(1\.\.20\)/);
    expect(validActions([retry, escalate])).toEqual([retry, escalate]);
    await expect(
      publishGateCheck(testOctokit(), at, { headSha: sha, externalId, conclusion: "failure", title: "t", summary: "s", actions: [{ ...retry, label: "Retry the failed step" }] }),
    ).rejects.toThrow(RangeError);
    github.verify();
  });

  it("refuses a completed check without a conclusion and an in-progress one with a conclusion", async () => {
    await expect(publishGateCheck(testOctokit(), at, { headSha: sha, externalId, status: "completed", title: "t", summary: "s" })).rejects.toThrow(/needs a conclusion/);
    await expect(
      publishGateCheck(testOctokit(), at, { headSha: sha, externalId, status: "in_progress", conclusion: "success", title: "t", summary: "s" }),
    ).rejects.toThrow(/takes no conclusion/);
    github.verify();
  });
});

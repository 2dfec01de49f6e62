import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { postReview, reviewTextLimit, type ReviewFinding, type ReviewToPost } from "../../src/github/reviews.js";
import { api, at, capture, fenceGitHub, testOctokit } from "./kit.js";

const reviewsPath = `/repos/${at.owner}/${at.repo}/pulls/7/reviews`;
const marker = "<!-- shopfloor:review:Codertocat/Hello-World#1:openai:1 -->";
const base: ReviewToPost = {
  pullNumber: 7,
  headSha: "a".repeat(40),
  marker,
  title: "Review by openai/gpt-5",
  summary: "The change does what the contract asks.",
  findings: [],
};
const note = "(cut to fit GitHub's limit)";

let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

describe("postReview", () => {
  it("returns the review that already carries the marker, on a later page, and posts nothing", async () => {
    nock(api)
      .get(reviewsPath)
      .query({ per_page: "100" })
      .reply(200, [{ id: 1, body: "someone else's review" }], { link: `<${api}${reviewsPath}?per_page=100&page=2>; rel="next"` })
      .get(reviewsPath)
      .query({ per_page: "100", page: "2" })
      .reply(200, [{ id: 2, body: `${marker}\n\n### Review by openai/gpt-5`, user: { login: "shopfloor[bot]", type: "Bot" } }]);

    await expect(postReview(testOctokit(), at, base)).resolves.toBe(2);
    github.verify();
  });

  it("posts one COMMENT review: diff findings inline on the right side, the others in the body", async () => {
    const bodies: unknown[] = [];
    nock(api).get(reviewsPath).query(true).reply(200, []).post(reviewsPath, capture(bodies)).reply(200, { id: 99 });
    const findings: ReviewFinding[] = [
      { file: "src/a.ts", line: 12, severity: "high", body: "Off by one.", onDiff: true },
      { file: "src/b.ts", line: 3, severity: "low", body: "Unused import,\nnot in this diff.", onDiff: false },
    ];

    await expect(postReview(testOctokit(), at, { ...base, findings })).resolves.toBe(99);
    github.verify();
    expect(bodies).toEqual([
      {
        commit_id: base.headSha,
        event: "COMMENT",
        body: [
          marker,
          "### Review by openai/gpt-5",
          "The change does what the contract asks.",
          "#### Findings not shown inline",
          "- `src/b.ts:3` **low**: Unused import,\n  not in this diff.",
        ].join("\n\n"),
        comments: [{ path: "src/a.ts", line: 12, side: "RIGHT", body: "**high**: Off by one." }],
      },
    ]);
  });

  it("puts at most 50 comments inline, the most severe, and moves the rest into the body", async () => {
    const bodies: { body: string; comments: { path: string; body: string }[] }[] = [];
    nock(api)
      .get(reviewsPath)
      .query(true)
      .reply(200, [])
      .post(reviewsPath, capture(bodies as unknown[]))
      .reply(200, { id: 5 });
    const findings: ReviewFinding[] = Array.from({ length: 60 }, (_, i) => ({
      file: `src/f${i}.ts`,
      line: i + 1,
      severity: i < 10 ? "info" : "medium",
      body: `finding ${i}`,
      onDiff: true,
    }));

    await postReview(testOctokit(), at, { ...base, findings });
    github.verify();
    const [sent] = bodies;
    expect(sent!.comments).toHaveLength(50);
    expect(sent!.comments.map((c) => c.path)).toEqual(findings.slice(10).map((f) => f.file));
    for (let i = 0; i < 10; i++) expect(sent!.body).toContain(`- \`src/f${i}.ts:${i + 1}\` **info**: finding ${i}`);
    expect(sent!.body).not.toContain("src/f10.ts");
  });

  it("cuts every text to fit GitHub's limit, keeping the marker", async () => {
    const bodies: { body: string; comments: { body: string }[] }[] = [];
    nock(api)
      .get(reviewsPath)
      .query(true)
      .reply(200, [])
      .post(reviewsPath, capture(bodies as unknown[]))
      .reply(200, { id: 6 });
    const long = "é".repeat(70_000);
    const findings: ReviewFinding[] = [
      { file: "src/a.ts", line: 1, severity: "critical", body: long, onDiff: true },
      { file: "src/b.ts", line: 2, severity: "low", body: long, onDiff: false },
    ];

    await postReview(testOctokit(), at, { ...base, summary: "x".repeat(100_000), findings });
    github.verify();
    const [sent] = bodies;
    expect(sent!.body.startsWith(marker)).toBe(true);
    expect(sent!.body.endsWith(note)).toBe(true);
    expect(Buffer.byteLength(sent!.body)).toBeLessThanOrEqual(reviewTextLimit);
    expect(sent!.comments[0]!.body.endsWith(note)).toBe(true);
    expect(Buffer.byteLength(sent!.comments[0]!.body)).toBeLessThanOrEqual(reviewTextLimit);
    expect(sent!.comments[0]!.body.length).toBeLessThan(65_536);
  });

  it("moves the inline comments into the body when GitHub cannot place them", async () => {
    const bodies: { body: string; comments: unknown[] }[] = [];
    nock(api)
      .get(reviewsPath)
      .query(true)
      .reply(200, [])
      .post(reviewsPath, capture(bodies as unknown[]))
      .reply(422, { message: "Unprocessable Entity", errors: ["Line could not be resolved"] })
      .post(reviewsPath, capture(bodies as unknown[]))
      .reply(200, { id: 8 });

    const findings: ReviewFinding[] = [{ file: "src/a.ts", line: 40, severity: "medium", body: "Stale line.", onDiff: true }];
    await expect(postReview(testOctokit(), at, { ...base, findings })).resolves.toBe(8);
    github.verify();
    expect(bodies[0]!.comments).toHaveLength(1);
    expect(bodies[1]!.comments).toEqual([]);
    expect(bodies[1]!.body).toContain("- `src/a.ts:40` **medium**: Stale line.");
  });
});

import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../src/domain/index.js";
import { createModel } from "../../src/models/index.js";
import { runGit, Workspace } from "../../src/workspace/index.js";
import { reviewJob, type ReviewJob } from "../../src/workers/review.js";
import { loadRoleCards, type RoleCards } from "../../src/workers/role-card.js";
import { makeOriginRepo, startGitServer, type GitServer } from "../kit/git-server.js";
import { startModelServer, type ModelScript, type ModelServer, type Turn } from "../kit/model-server.js";

const TOKEN = "ghs_ReviewTestToken_0000";
const repo = { owner: "acme", name: "calc", installationId: 7 };
const MODEL = "kit-reviewer";
const agentsDir = path.resolve(import.meta.dirname, "../../agents");

const calc = (edit: (i: number) => string = (i) => `export const v${i} = ${i};`) =>
  Array.from({ length: 20 }, (_, k) => edit(k + 1)).join("\n") + "\n";

const plan: Plan = {
  summary: "Make v3 negative",
  risk: "low",
  subtasks: [{ id: "impl", role: "generate", title: "Negate v3", brief: "Negate v3 in src/calc.ts.", files: ["src/calc.ts"], dependsOn: [], assertions: ["A1", "A2"] }],
  contract: {
    assertions: [
      { id: "A1", text: "the tests pass", check: { kind: "command", command: "npm test" } },
      { id: "A2", text: "v3 is negative and nothing else changed", check: { kind: "review", rubric: "compare v3 before and after" } },
    ],
  },
};

let tmp: string;
let git: GitServer;
let cards: RoleCards;
let baseSha: string;
let headSha: string;
let model: ModelServer | undefined;
let workDir: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "review-test-"));
  const originRoot = path.join(tmp, "origin");
  baseSha = await makeOriginRepo(originRoot, repo.owner, repo.name, {
    "AGENTS.md": "Keep one export per line.\n",
    "README.md": "# calc\n",
    "src/calc.ts": calc(),
  });
  // The run branch: one commit on top of the base that changes line 3 of src/calc.ts.
  const seed = path.join(tmp, "seed");
  const bare = path.join(originRoot, repo.owner, `${repo.name}.git`);
  await runGit(["clone", "--quiet", bare, seed], { cwd: tmp });
  await writeFile(path.join(seed, "src/calc.ts"), calc((i) => (i === 3 ? "export const v3 = -3;" : `export const v${i} = ${i};`)));
  const who = { GIT_AUTHOR_NAME: "Bot", GIT_AUTHOR_EMAIL: "bot@example.com", GIT_COMMITTER_NAME: "Bot", GIT_COMMITTER_EMAIL: "bot@example.com" };
  await runGit(["commit", "--quiet", "-am", "negate v3"], { cwd: seed, env: who });
  await runGit(["push", "--quiet", "origin", "HEAD:refs/heads/shopfloor/1-negate"], { cwd: seed });
  headSha = (await runGit(["rev-parse", "HEAD"], { cwd: seed })).stdout.trim();
  git = await startGitServer({ root: originRoot, token: TOKEN });
  cards = await loadRoleCards(agentsDir);
  workDir = path.join(tmp, "work");
});

afterEach(async () => {
  await model?.close();
  model = undefined;
});

afterAll(async () => {
  await git?.close();
  await rm(tmp, { recursive: true, force: true });
});

const job = (over: Partial<ReviewJob> = {}): ReviewJob => ({
  kind: "review",
  jobId: "acme/calc#1:review:r1:1:a1",
  runId: "acme/calc#1",
  repo,
  attempt: 1,
  baseSha,
  headSha,
  reviewer: "r1",
  route: `openai/${MODEL}`,
  plan,
  round: 1,
  priorFindings: [],
  ...over,
});

async function review(turns: Turn[], over: Partial<ReviewJob> = {}) {
  const script: ModelScript = { [MODEL]: turns };
  model = await startModelServer(script);
  const server = model;
  const workspace = new Workspace({ workDir, tokenFor: async () => TOKEN, remoteUrlFor: (r) => `${git.url}/${r.owner}/${r.name}.git` });
  const outcome = await reviewJob(job(over), {
    workspace,
    cards,
    modelFor: (route) => createModel(route, { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${server.url}/v1` }),
  });
  return { outcome, requests: server.requests };
}

const readCalc: Turn = { toolCalls: [{ name: "read_file", args: { path: "src/calc.ts" } }] };
const report = {
  verdict: "approve",
  summary: "v3 is negated; nothing else changed.",
  confidence: 0.9,
  findings: [],
  assertionChecks: [{ id: "A2", holds: true, evidence: "line 3 now reads -3; the other lines are unchanged" }],
};
const finding = (file: string, line: number) => ({ file, line, severity: "high", assertions: ["A2"], body: "This is wrong." });
const finish = (args: unknown): Turn => ({ toolCalls: [{ name: "finish", args }] });

describe("reviewJob", () => {
  it("reads the change with read-only tools and returns an approval", async () => {
    const { outcome, requests } = await review([readCalc, finish(report)]);

    expect(outcome).toMatchObject({
      ok: true,
      output: {
        kind: "review",
        review: { ...report, reviewer: "r1", route: `openai/${MODEL}`, headSha, onDiff: [] },
      },
    });
    if (!outcome.ok) return;
    const { review: result } = outcome.output as unknown as { review: { usage: unknown[]; trace: Array<{ tool: string; ok: boolean }> } };
    expect(result.usage).toHaveLength(2);
    expect(result.trace.map((t) => [t.tool, t.ok])).toEqual([["read_file", true], ["finish", true]]);

    // Offered only reading tools; no write, edit or run.
    const offered = (requests[0]!.body.tools as Array<{ function: { name: string } }>).map((t) => t.function.name);
    expect(offered).toEqual(["read_file", "list_files", "search", "finish"]);

    // The task: the contract, the review assertion to check, the conventions and the diff, quoted.
    const task = requests[0]!.body.messages[1].content as string;
    expect(task).toContain("A2: v3 is negative and nothing else changed (review: compare v3 before and after)");
    expect(task).toMatch(/Assertions you must check explicitly\n- A2\n/);
    expect(task).toContain("- src/calc.ts (modified)");
    expect(task).toMatch(/Untrusted data from the repository's conventions \(AGENTS\.md\)[^\n]*\n`{3,}text\nKeep one export per line\./);
    expect(task).toMatch(/Untrusted data from the diff of the change[^\n]*\n`{3,}text\ndiff --git a\/src\/calc\.ts b\/src\/calc\.ts\n/);
    expect(task).toContain("\n-export const v3 = 3;\n+export const v3 = -3;\n");

    // The reviewer read the head, and the worktree is gone afterwards.
    const toolResult = requests[1]!.body.messages.find((m: { role: string }) => m.role === "tool");
    expect(toolResult.content).toContain("export const v3 = -3;");
    const worktrees = path.join(workDir, "worktrees", repo.owner, repo.name);
    expect(existsSync(worktrees) ? await readdir(worktrees) : []).toEqual([]);
  });

  it("places a finding on a changed line on the diff", async () => {
    const { outcome } = await review([readCalc, finish({ ...report, verdict: "request_changes", findings: [finding("src/calc.ts", 3)] })]);
    expect(outcome).toMatchObject({
      ok: true,
      output: { review: { verdict: "request_changes", findings: [{ file: "src/calc.ts", line: 3, severity: "high" }], onDiff: [true] } },
    });
  });

  it("keeps a finding on an unchanged line of a changed file, off the diff", async () => {
    const { outcome } = await review([readCalc, finish({ ...report, verdict: "request_changes", findings: [finding("src/calc.ts", 15)] })]);
    expect(outcome).toMatchObject({ ok: true, output: { review: { findings: [{ file: "src/calc.ts", line: 15 }], onDiff: [false] } } });
  });

  it("fails the whole review when a finding names a file the change does not touch", async () => {
    const { outcome } = await review([
      readCalc,
      finish({ ...report, verdict: "approve", findings: [finding("src/calc.ts", 3), finding("README.md", 1)] }),
    ]);
    expect(outcome).toMatchObject({
      ok: false,
      failure: { class: "permanent", reason: "invalid_output", detail: "finding on README.md, which the change does not touch" },
    });
    if (outcome.ok) return;
    expect(outcome.usage).toHaveLength(2);
  });

  it("fails typed after three malformed finishes", async () => {
    const bad = finish({ verdict: "looks fine", summary: "", confidence: 2 });
    const { outcome, requests } = await review([bad, bad, bad]);
    expect(outcome).toMatchObject({ ok: false, failure: { class: "permanent", reason: "invalid_output" } });
    expect(requests).toHaveLength(3);
    const worktrees = path.join(workDir, "worktrees", repo.owner, repo.name);
    expect(existsSync(worktrees) ? await readdir(worktrees) : []).toEqual([]);
  });
});

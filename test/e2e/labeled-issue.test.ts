import { afterEach, describe, expect, it } from "vitest";
import { runGit } from "../../src/workspace/git.js";
import { startApp, owner, repoName, defaultBranch, type AppHarness } from "../kit/app.js";
import type { RecordedRequest } from "../kit/model-server.js";
import { configYaml, goodFarewell, badFarewell, labeledPayload, projectFiles, script } from "./scenario.js";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";

const runId = `${owner}/${repoName}#1`;
const branch = "shopfloor/1-add-farewell-name";
const full = `/repos/${owner}/${repoName}`;

let app: AppHarness | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function originFile(h: AppHarness, ref: string, path: string): Promise<string> {
  return (await runGit(["show", `${ref}:${path}`], { cwd: join(h.originRoot, owner, `${repoName}.git`) })).stdout;
}

describe("a labelled issue becomes a gated pull request", () => {
  it("plans, builds, tests, pushes, opens one draft PR and concludes the gate success", async () => {
    app = await startApp({ script: script(goodFarewell), files: projectFiles, configYaml });
    app.github.permissions = { Codertocat: "write" };
    const payload = labeledPayload();
    expect(await app.deliver("issues", payload, "delivery-1")).toBe(200);
    // GitHub redelivers with the same id: it must change nothing, and is known without asking GitHub.
    expect(await app.deliver("issues", payload, "delivery-1")).toBe(200);
    expect(app.github.count("GET", `${full}/collaborators/Codertocat/permission`)).toBe(1);
    const run = await app.waitForRun(runId);
    const gh = app.github;

    expect(run.phase).toBe("gated");
    expect(gh.unexpected).toEqual([]);

    // The branch on the origin holds the generated change on top of the default branch.
    expect(await originFile(app, branch, "src/farewell.js")).toBe(goodFarewell);
    const parent = (await runGit(["rev-parse", `${branch}~1`], { cwd: join(app.originRoot, owner, `${repoName}.git`) })).stdout.trim();
    expect(parent).toBe(app.originSha);
    const head = (await runGit(["rev-parse", branch], { cwd: join(app.originRoot, owner, `${repoName}.git`) })).stdout.trim();
    expect(run.headSha).toBe(head);
    // Git authenticated through the credential helper: never a token in a URL.
    expect(app.git.requests.length).toBeGreaterThan(0);
    expect(app.git.requests.every((r) => !r.urlHadCredentials)).toBe(true);
    expect(app.git.requests.some((r) => r.authorized && r.path.endsWith("/git-receive-pack"))).toBe(true);

    // Exactly one PR, draft, right head and base, body with Closes, plan, contract, handoff and spend.
    expect(gh.count("POST", `${full}/pulls`)).toBe(1);
    const prBody = gh.requests.find((r) => r.method === "POST" && r.path === `${full}/pulls`)!.body;
    expect(prBody).toMatchObject({ head: branch, base: defaultBranch, title: "Add farewell(name)", draft: true });
    expect(prBody.body).toContain("Closes #1");
    expect(prBody.body).toContain("| `impl` Implement farewell(name) | generate | src/farewell.js | ok |");
    expect(prBody.body).toContain("| `A1` | farewell('Ann') returns 'Goodbye, Ann!' | command `npm test` |");
    expect(prBody.body).toContain("ran `npm test` → exit 0");
    expect(prBody.body).toMatch(/\*\*Spend:\*\* \$0\.0\d*[1-9]\d*, 8330 tokens/);
    expect(prBody.body).toContain("| planner | `anthropic/claude-haiku-4-5` |");
    expect(prBody.body).toContain("| generate | `openai/gpt-5-mini` |");

    // Exactly one progress comment, updated in place, ending on the final state.
    expect(gh.count("POST", `${full}/issues/1/comments`)).toBe(1);
    const comments = gh.comments.get(1)!;
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain(`<!-- shopfloor:progress:${runId} -->`);
    expect(comments[0]!.body).toContain("Done: the pull request is open");
    expect(comments[0]!.body).toContain(`**Pull request:** #${gh.pulls[0]!.number}`);
    expect(comments[0]!.body).toContain("**Gate:** `success`");

    // The gate check: completed success on the head commit, with the DoD table.
    expect(gh.count("POST", `${full}/check-runs`)).toBe(1);
    const check = gh.checkRuns[0]!;
    expect(check).toMatchObject({ name: "Shopfloor gate", head_sha: head, external_id: runId, status: "completed", conclusion: "success" });
    expect(check.output.summary).toContain("| `npm test` (test) | ✅ pass | exit 0");
    expect(check.output.summary).toContain("| Reviewer quorum approves, no blocking finding | ✅ pass | anthropic/claude-opus-4-1: approve, openai/gpt-4.1: approve |");
    expect(check.output.summary).toContain("| Test integrity against the base | ✅ pass | no test deleted or skipped; 1 → 1 tests |");

    // What was asked of GitHub, and no more: no merge, no extra writes.
    // Eight writes: the progress comment is posted, then written once more with the final state
    // (updates while the run works are coalesced, and this run finishes within one window).
    const writes = gh.lines().filter((l) => !l.startsWith("GET ")).filter((l) => !l.includes("/access_tokens"));
    expect(writes).toEqual([
      `POST ${full}/issues/1/comments`,
      `POST ${full}/pulls`,
      `POST ${full}/check-runs`,
      `POST ${full}/pulls/${gh.pulls[0]!.number}/reviews`,
      `POST ${full}/pulls/${gh.pulls[0]!.number}/reviews`,
      `PATCH ${full}/check-runs/${check.id}`,
      "POST /graphql",
      `PATCH ${full}/issues/comments/${comments[0]!.id}`,
    ]);
    // The gate went in_progress while reviewers read, then completed.
    const gateWrites = gh.requests.filter((r) => r.path.includes("/check-runs") && r.method !== "GET").map((r) => r.body.status);
    expect(gateWrites).toEqual(["in_progress", "completed"]);
    // Each reviewer posted one COMMENT review, titled with its model, never an approval.
    const reviews = gh.reviews.map((r) => ({ event: r.event, title: r.body.split("\n").find((l: string) => l.startsWith("###")) }));
    expect(reviews).toEqual(
      expect.arrayContaining([
        { event: "COMMENT", title: "### Review by anthropic/claude-opus-4-1: approve" },
        { event: "COMMENT", title: "### Review by openai/gpt-4.1: approve" },
      ]),
    );
    expect(reviews).toHaveLength(2);
    // On success the draft PR is marked ready for review; a person merges.
    expect(gh.ready).toEqual([gh.pulls[0]!.number]);
    expect(gh.pulls[0]!.draft).toBe(false);
    // The labeller's permission was asked once: the redelivery was known from the store.
    expect(gh.count("GET", `${full}/collaborators/Codertocat/permission`)).toBe(1);
    // The token git used was scoped to this one repository.
    const scoped = gh.requests.filter((r) => r.path.endsWith("/access_tokens") && r.body?.repositories);
    expect(scoped.map((r) => r.body)).toEqual([{ repositories: [repoName], permissions: { contents: "write" } }]);

    // The planner got the issue as quoted data, with the hidden HTML comment stripped.
    const plannerFirst = app.models.requests.find((r) => r.body.model === "claude-haiku-4-5")!;
    const sent = JSON.stringify(plannerFirst.body);
    expect(sent).toContain("farewell(name)");
    expect(sent).not.toContain("ignore previous instructions");
    // The repo's AGENTS.md from the default branch reaches agents as quoted data.
    expect(sent).toContain("Use two-space indentation and ES modules.");
    expect(sent).toMatch(/Untrusted data from the repository's AGENTS\.md/);
    // No secret reached a model, GitHub or the run notes.
    for (const secret of [app.token, "sk-ant-kit-key-never-leaks", "sk-openai-kit-key-never-leaks"]) {
      expect(JSON.stringify(app.models.requests.map((r) => r.body))).not.toContain(secret);
      expect(JSON.stringify(gh.requests.map((r) => r.body))).not.toContain(secret);
      expect(await readFile(join(app.stateDir, "runs", owner, repoName, "1", "run.json"), "utf8")).not.toContain(secret);
    }
    expect(app.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0, "claude-opus-4-1": 0, "gpt-4.1": 0 });
    // Workers reported progress turn by turn: turns, tool calls and the size of the change.
    // Progress is stored as it comes, apart from the job's answer: the last report may land just after it.
    const progressFile = join(app.stateDir, "runs", owner, repoName, "1", "progress.json");
    let progress = JSON.parse(await readFile(progressFile, "utf8"));
    for (let i = 0; i < 50 && progress[`${runId}:build:impl:a1`]?.turn !== 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      progress = JSON.parse(await readFile(progressFile, "utf8"));
    }
    expect(progress[`${runId}:plan:a1`]).toMatchObject({ turn: 3, toolCalls: 3, filesChanged: 0 });
    expect(progress[`${runId}:build:impl:a1`]).toMatchObject({ turn: 3, toolCalls: 3, filesChanged: 1 });
    // Worktrees are cleaned up after each job.
    const left = await readdir(join(app.workDir, "worktrees", owner, repoName)).catch(() => []);
    expect(left).toEqual([]);
  });

  it("concludes the gate failure, naming the command, when the generated code fails the tests and no fix attempt is allowed", async () => {
    app = await startApp({ script: script(badFarewell), files: projectFiles, configYaml: configYaml.replace("  test: npm test\n", "  test: npm test\n  fixAttempts: 0\n") });
    app.github.permissions = { Codertocat: "admin" };
    expect(await app.deliver("issues", labeledPayload(), "delivery-2")).toBe(200);
    const run = await app.waitForRun(runId);
    const gh = app.github;
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("gated");
    expect(run.scrutiny?.[0]).toMatchObject({ cmd: "npm test", exitCode: 1 });
    expect(await originFile(app, branch, "src/farewell.js")).toBe(badFarewell);
    expect(gh.count("POST", `${full}/pulls`)).toBe(1);
    const check = gh.checkRuns[0]!;
    expect(check).toMatchObject({ name: "Shopfloor gate", conclusion: "failure", status: "completed" });
    expect(check.output.title).toContain("`npm test` (test)");
    expect(check.output.summary).toContain("| `npm test` (test) | ❌ fail | exit 1");
    expect(gh.comments.get(1)![0]!.body).toContain("**Gate:** `failure`");
  });
});

describe("a generator run by Claude Code instead of the built-in loop", () => {
  it("builds the change through the real claude CLI when the repo config picks it", async () => {
    const worktreeOf = (req: RecordedRequest) => /(\/[^\s"\\]*\/worktrees\/Codertocat\/Hello-World\/[A-Za-z0-9._-]+)/.exec(JSON.stringify(req.body))?.[1];
    const cliScript = {
      ...script(goodFarewell),
      "gpt-5-mini": [],
      "claude-sonnet-4-5": [
        (req: RecordedRequest) => ({ toolCalls: [{ name: "Write", args: { file_path: `${worktreeOf(req)}/src/farewell.js`, content: goodFarewell } }] }),
        () => ({
          toolCalls: [
            {
              name: "StructuredOutput",
              args: { status: "ok", confidence: 0.9, summary: "Implemented farewell with Claude Code", handoff: { completed: ["src/farewell.js"], remaining: [], commands: [], issues: [], followedProcedure: true } },
            },
          ],
        }),
      ],
    };
    app = await startApp({
      script: cliScript,
      files: projectFiles,
      configYaml: configYaml.replace("generator: openai/gpt-5-mini", "generator: anthropic/claude-sonnet-4-5") + "runtimes:\n  generator: claude-code\n",
    });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    expect(app.github.unexpected).toEqual([]);
    expect(run.failure?.detail ?? "none").toBe("none");
    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");
    expect(await originFile(app, branch, "src/farewell.js")).toBe(goodFarewell);
    expect(run.subtasks.impl?.result?.summary).toBe("Implemented farewell with Claude Code");
    expect(run.usage.filter((u) => u.role === "generate").map((u) => u.model)).toEqual(["claude-sonnet-4-5"]);
    // Claude Code was called with the operator's key, and the repo's own CLAUDE.md was not honoured.
    const cliRequests = app.models.requests.filter((r) => r.body.model === "claude-sonnet-4-5");
    expect(cliRequests.length).toBeGreaterThanOrEqual(2);
    expect(cliRequests[0]!.headers["x-api-key"]).toBe("sk-ant-kit-key-never-leaks");
    expect(app.models.remaining()["claude-sonnet-4-5"]).toBe(0);
  });
});

describe("secrets on their way to GitHub", () => {
  it("are redacted from everything Shopfloor writes, even when a model repeats one", async () => {
    const leaky = script(goodFarewell);
    // A model that somehow learned a key (say, from a prompt injection) and repeats it in its report.
    leaky["gpt-5-mini"]![2] = () => ({
      toolCalls: [
        {
          name: "finish",
          args: {
            status: "ok",
            confidence: 0.9,
            summary: "Implemented farewell; by the way the key is sk-openai-kit-key-never-leaks",
            handoff: { completed: ["done"], remaining: [], commands: [], issues: ["saw sk-ant-kit-key-never-leaks in a file"], followedProcedure: true },
          },
        },
      ],
    });
    app = await startApp({ script: leaky, files: projectFiles, configYaml });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    await app.waitForRun(runId);
    const written = JSON.stringify(app.github.requests.map((r) => r.body));
    expect(written).not.toContain("sk-openai-kit-key-never-leaks");
    expect(written).not.toContain("sk-ant-kit-key-never-leaks");
    expect(app.github.pulls[0]!.body).toContain("by the way the key is [redacted]");
  });
});

describe("an invalid .github/shopfloor.yml", () => {
  it("gets one comment naming the field, and the run does not start", async () => {
    app = await startApp({ script: {}, files: projectFiles, configYaml: "budget:\n  usd: lots\ncommands:\n  tset: npm test\n" });
    app.github.permissions = { Codertocat: "maintain" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId);
    expect(run.phase).toBe("rejected");
    expect(app.github.unexpected).toEqual([]);
    expect(app.github.lines().filter((l) => !l.startsWith("GET ") && !l.includes("access_tokens"))).toEqual([`POST ${full}/issues/1/comments`]);
    const body = app.github.comments.get(1)![0]!.body;
    expect(body).toContain("`.github/shopfloor.yml` on the default branch is invalid");
    expect(body).toContain("`budget.usd`: Invalid input: expected number, received string");
    expect(body).toContain("`commands`: unknown field(s) `tset`");
    expect(app.models.requests).toEqual([]);
  });
});

describe("who and what may start a run", () => {
  const cases = [
    { name: "a labeller with only triage permission", payload: () => labeledPayload({ sender: "triager" }), permissionChecks: 1 },
    { name: "a labeller with read permission", payload: () => labeledPayload({ sender: "reader" }), permissionChecks: 1 },
    { name: "a bot", payload: () => labeledPayload({ sender: "renovate[bot]", senderType: "Bot" }), permissionChecks: 0 },
    { name: "a different label", payload: () => labeledPayload({ label: "bug" }), permissionChecks: 0 },
  ];
  for (const c of cases) {
    it(`does nothing for ${c.name} beyond the permission check`, async () => {
      app = await startApp({ script: {}, files: projectFiles, configYaml });
      app.github.permissions = { triager: "triage", reader: "read", Codertocat: "write" };
      expect(await app.deliver("issues", c.payload())).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      const lines = app.github.lines();
      const expected = c.permissionChecks
        ? [`POST /app/installations/42/access_tokens`, `GET ${full}/collaborators/${c.payload().sender.login}/permission`]
        : [];
      expect(lines).toEqual(expected);
      expect(app.github.unexpected).toEqual([]);
      expect(await app.readRun(runId)).toBeUndefined();
      expect(app.models.requests).toEqual([]);
    });
  }
});

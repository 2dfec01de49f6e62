import nock from "nock";
import type { Probot } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { intakeForeignPullRequest } from "../../src/intake/foreign-pr.js";
import { api, capture, fenceGitHub } from "../github/kit.js";
import { example, expectInstallationToken, probotWith } from "./probot.js";

const owner = "Codertocat";
const repo = "Hello-World";
const installationId = 42;
const checkRunsPath = `/repos/${owner}/${repo}/check-runs`;

let github: ReturnType<typeof fenceGitHub>;
let asked: { number: number; headRef: string }[];
/** PR numbers and branches the "store" says belong to runs. */
let runPulls: Set<number>;
let runBranches: Set<string>;
let probot: Probot;
beforeEach(async () => {
  github = fenceGitHub();
  asked = [];
  runPulls = new Set();
  runBranches = new Set();
  probot = await probotWith((app) =>
    app.on(["pull_request.opened", "pull_request.synchronize", "pull_request.reopened"], (context) =>
      intakeForeignPullRequest(context, {
        isRunPullRequest: async (o, r, pr) => {
          asked.push(pr);
          return o === owner && r === repo && (runPulls.has(pr.number) || runBranches.has(pr.headRef));
        },
      }),
    ),
  );
});
afterEach(() => github.close());

/** The real `pull_request.<action>` example (Codertocat's PR #2 on Hello-World), with an installation. */
function pullRequest(action: string, change: (payload: any) => void = () => {}): any {
  const payload = example("pull_request", action);
  payload.installation = { id: installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" };
  change(payload);
  return payload;
}

const deliver = (id: string, payload: any) => probot.receive({ id, name: "pull_request", payload } as any);

function expectGate(into: unknown[]): void {
  expectInstallationToken(installationId);
  nock(api).post(checkRunsPath, capture(into)).reply(201, { id: 77 });
}

describe("the gate on a pull request no run made", () => {
  it("passes a person's pull request at once, saying it is not a Shopfloor run", async () => {
    const created: any[] = [];
    expectGate(created);
    const payload = pullRequest("opened");

    await deliver("d-person", payload);

    github.verify();
    expect(asked).toEqual([{ number: 2, headRef: "changes" }]);
    expect(created).toEqual([
      {
        name: "Shopfloor gate",
        head_sha: payload.pull_request.head.sha,
        external_id: "shopfloor:not-a-run",
        status: "completed",
        conclusion: "success",
        completed_at: expect.any(String),
        output: { title: "Not a Shopfloor run", summary: expect.stringContaining("Shopfloor did not make this pull request") },
      },
    ]);
  });

  it("passes the new head after a push, and again when the pull request is reopened", async () => {
    const created: any[] = [];
    expectGate(created);
    nock(api).post(checkRunsPath, capture(created)).reply(201, { id: 78 });
    const newHead = "f".repeat(40);

    await deliver("d-sync", pullRequest("synchronize", (p) => (p.pull_request.head.sha = newHead)));
    await deliver("d-reopen", pullRequest("reopened"));

    github.verify();
    expect(created.map((c) => [c.head_sha, c.conclusion])).toEqual([
      [newHead, "success"],
      ["ec26c3e57ca3a959ca5aad62de7213c562f8c821", "success"],
    ]);
  });

  it("leaves a run's pull request to the run: no request at all", async () => {
    runPulls.add(2);
    await deliver("d-run", pullRequest("opened"));
    await deliver("d-run-sync", pullRequest("synchronize"));
    github.verify();
    expect(github.unexpected).toEqual([]);
    expect(asked).toHaveLength(2);
  });

  it("leaves a run's pull request alone when it opens before the run has recorded its number", async () => {
    runBranches.add("shopfloor/2-add-farewell");
    await deliver("d-race", pullRequest("opened", (p) => (p.pull_request.head.ref = "shopfloor/2-add-farewell")));
    github.verify();
    expect(github.unexpected).toEqual([]);
  });

  it("passes a person's branch named shopfloor/* that no run pushed, and says so", async () => {
    const created: any[] = [];
    expectGate(created);
    await deliver("d-lookalike", pullRequest("opened", (p) => (p.pull_request.head.ref = "shopfloor/9-my-own-work")));
    github.verify();
    expect(created[0].conclusion).toBe("success");
    expect(created[0].output.summary).toContain("no Shopfloor run pushed it");
  });

  it("passes a fork's pull request on the base repository, even from a branch a run uses", async () => {
    runBranches.add("shopfloor/2-add-farewell");
    const created: any[] = [];
    expectGate(created);
    await deliver(
      "d-fork",
      pullRequest("opened", (p) => {
        p.pull_request.head.ref = "shopfloor/2-add-farewell";
        p.pull_request.head.repo = { ...p.pull_request.head.repo, full_name: "mallory/Hello-World" };
      }),
    );
    github.verify();
    expect(asked).toEqual([]);
    expect(created.map((c) => c.conclusion)).toEqual(["success"]);
  });
});

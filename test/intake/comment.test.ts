import nock from "nock";
import type { Probot } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { intakeComment } from "../../src/intake/comment.js";
import { api, fenceGitHub } from "../github/kit.js";
import { appId, example, expectInstallationToken, expectPermission, inbox, probotWith } from "./probot.js";

const owner = "Codertocat";
const repo = "Hello-World";
const installationId = 42;
/** Issue 1 has a run; PR 9 is that run's pull request. */
const runs = new Map([
  [1, 1],
  [9, 1],
]);

let github: ReturnType<typeof fenceGitHub>;
let box: ReturnType<typeof inbox>;
let lookups: string[];
let probot: Probot;
beforeEach(async () => {
  github = fenceGitHub();
  box = inbox();
  lookups = [];
  probot = await probotWith((app) =>
    app.on("issue_comment.created", (context) =>
      intakeComment(context, {
        persist: box.persist,
        wake: box.wake,
        isRunIssue: async (o, r, number, kind) => {
          lookups.push(`${kind} ${number}`);
          const runIssue = o === owner && r === repo ? runs.get(number) : undefined;
          return runIssue === undefined ? undefined : { runIssue };
        },
      }),
    ),
  );
});
afterEach(() => github.close());

/** The real `issue_comment.created` example (Codertocat on Hello-World#1), with our body and an installation. */
function comment(body: string, change: (payload: any) => void = () => {}): any {
  const payload = example("issue_comment", "created");
  payload.comment.body = body;
  payload.installation = { id: installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" };
  change(payload);
  return payload;
}

function deliver(id: string, payload: any) {
  return probot.receive({ id, name: "issue_comment", payload } as any);
}

describe("intakeComment", () => {
  it("persists a writer's command with its flags, after exactly a token and a permission check", async () => {
    expectInstallationToken(installationId);
    expectPermission(owner, repo, "Codertocat", "write");
    const payload = comment("Thanks for trying.\n/retry --model openai/gpt-5 --budget 30 try smaller steps");

    await deliver("d-writer", payload);

    github.verify();
    expect(box.persisted).toEqual([
      {
        deliveryId: "d-writer",
        event: {
          type: "command.received",
          runId: `${owner}/${repo}#1`,
          at: expect.any(String),
          command: "retry",
          note: "try smaller steps",
          model: "openai/gpt-5",
          budgetUsd: 30,
          by: "Codertocat",
          source: "comment",
          commentId: payload.comment.id,
          issueNumber: 1,
        },
      },
    ]);
    expect(Date.parse((box.persisted[0]!.event as { at: string }).at)).not.toBeNaN();
    expect(box.wakes).toBe(1);
  });

  it("persists a refusal for a triage user and does not act on the command", async () => {
    expectInstallationToken(installationId);
    expectPermission(owner, repo, "Codertocat", "triage");

    await deliver("d-triage", comment("/cancel"));

    github.verify();
    expect(box.persisted).toEqual([
      {
        deliveryId: "d-triage",
        event: { type: "command.refused", runId: `${owner}/${repo}#1`, at: expect.any(String), by: "Codertocat", command: "cancel", issueNumber: 1 },
      },
    ]);
    expect(box.wakes).toBe(1);
  });

  it("refuses a read-only user too", async () => {
    expectInstallationToken(installationId);
    expectPermission(owner, repo, "Codertocat", "read");
    await deliver("d-read", comment("/approve"));
    github.verify();
    expect(box.persisted.map((p) => p.event.type)).toEqual(["command.refused"]);
  });

  it("ignores a bot without a single request", async () => {
    await deliver("d-bot", comment("/retry", (p) => (p.sender = { ...p.sender, login: "renovate[bot]", type: "Bot" })));
    github.verify();
    expect(github.unexpected).toEqual([]);
    expect(lookups).toEqual([]);
    expect(box.persisted).toEqual([]);
  });

  it("ignores the app's own comment, such as its help reply quoting a command", async () => {
    const own = (p: any) => (p.comment.performed_via_github_app = { id: appId, slug: "shopfloor", name: "Shopfloor" });
    await deliver("d-own", comment("/help", own));
    github.verify();
    expect(lookups).toEqual([]);
    expect(box.persisted).toEqual([]);
  });

  it("ignores a command inside a code fence without a request", async () => {
    await deliver("d-fence", comment("The log said:\n```\n/retry\n```"));
    github.verify();
    expect(lookups).toEqual([]);
    expect(box.persisted).toEqual([]);
  });

  it("ignores a comment without a command", async () => {
    await deliver("d-chat", comment("You are totally right! I'll get this fixed right away."));
    github.verify();
    expect(box.persisted).toEqual([]);
  });

  it("ignores a command on an issue that has no run, without a request", async () => {
    await deliver("d-norun", comment("/retry", (p) => (p.issue.number = 2)));
    github.verify();
    expect(lookups).toEqual(["issue 2"]);
    expect(box.persisted).toEqual([]);
  });

  it("acts only on the first command of a comment", async () => {
    expectInstallationToken(installationId);
    expectPermission(owner, repo, "Codertocat", "admin");
    await deliver("d-first", comment("/status\n/cancel"));
    github.verify();
    expect(box.persisted.map((p) => p.event)).toMatchObject([{ type: "command.received", command: "status" }]);
  });

  it("maps a command on the run's pull request to the run, after checking the PR is not from a fork", async () => {
    expectInstallationToken(installationId);
    nock(api)
      .get(`/repos/${owner}/${repo}/pulls/9`)
      .reply(200, { number: 9, head: { repo: { full_name: `${owner}/${repo}` } }, base: { repo: { full_name: `${owner}/${repo}` } } });
    expectPermission(owner, repo, "Codertocat", "maintain");
    const onPr = (p: any) => {
      p.issue.number = 9;
      p.issue.pull_request = { url: `${api}/repos/${owner}/${repo}/pulls/9` };
    };

    await deliver("d-pr", comment("/escalate reviewers disagree", onPr));

    github.verify();
    // One lookup, by the kind the payload says: a PR is found by its number in the PR index.
    expect(lookups).toEqual(["pull request 9"]);
    expect(box.persisted.map((p) => p.event)).toMatchObject([
      { type: "command.received", runId: `${owner}/${repo}#1`, command: "escalate", note: "reviewers disagree", issueNumber: 9 },
    ]);
  });

  it("ignores a command on a pull request from a fork", async () => {
    expectInstallationToken(installationId);
    nock(api)
      .get(`/repos/${owner}/${repo}/pulls/9`)
      .reply(200, { number: 9, head: { repo: { full_name: `mallory/${repo}` } }, base: { repo: { full_name: `${owner}/${repo}` } } });
    const onPr = (p: any) => {
      p.issue.number = 9;
      p.issue.pull_request = { url: `${api}/repos/${owner}/${repo}/pulls/9` };
    };

    await deliver("d-fork", comment("/retry", onPr));

    github.verify();
    expect(box.persisted).toEqual([]);
  });

  it("persists a writer's malformed command with its error, for the engine to answer instead of acting", async () => {
    expectInstallationToken(installationId);
    expectPermission(owner, repo, "Codertocat", "write");
    await deliver("d-bad", comment("/retry --budget lots"));
    github.verify();
    expect(box.persisted).toHaveLength(1);
    expect(box.persisted[0]).toMatchObject({ event: { type: "command.received", command: "retry", error: expect.stringContaining("--budget") } });
    expect(box.persisted[0]!.event).not.toHaveProperty("budgetUsd");
  });

  it("does not wake the engine for a delivery it has already persisted", async () => {
    box = inbox(false);
    probot = await probotWith((app) =>
      app.on("issue_comment.created", (context) => intakeComment(context, { ...box, isRunIssue: async () => ({ runIssue: 1 }) })),
    );
    expectInstallationToken(installationId);
    expectPermission(owner, repo, "Codertocat", "write");
    await deliver("d-again", comment("/status"));
    github.verify();
    expect(box.persisted).toHaveLength(1);
    expect(box.wakes).toBe(0);
  });
});

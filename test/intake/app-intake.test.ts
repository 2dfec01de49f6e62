/**
 * Intake as the real app wires it (src/index.ts behind Probot's server): a person's pull request
 * gets a passing gate, a run's does not, and a malformed delivery is answered without effect.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import examples from "@octokit/webhooks-examples";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decide } from "../../src/orchestrator/machine.js";
import { FileRunStore } from "../../src/store/file.js";
import { installationId, owner, repoName, startApp, type AppHarness } from "../kit/app.js";

const all = examples as unknown as { name: string; examples: any[] }[];
const installation = { id: installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" };
function example(name: string, action: string | undefined, pick: (e: any) => boolean = () => true): any {
  const found = all.find((e) => e.name === name)!.examples.find((e) => e.action === action && pick(e));
  if (!found) throw new Error(`no ${name}.${action} example`);
  return { ...structuredClone(found), installation };
}
const helloWorld = () => example("issues", "labeled").repository;

let app: AppHarness;
beforeAll(async () => {
  app = await startApp({ script: {}, files: { "README.md": "# Hello\n" } });
  app.github.permissions = { Codertocat: "write" };
}, 60_000);
afterAll(async () => app?.close());

/** Requests made to GitHub while `fn` ran, as `METHOD path`. */
async function requestsDuring(fn: () => Promise<void>): Promise<string[]> {
  const before = app.github.requests.length;
  await fn();
  return app.github.lines().slice(before);
}

describe("the gate on pull requests, through the app", () => {
  it("passes a person's pull request with a gate that says it is not a Shopfloor run", async () => {
    const payload = example("pull_request", "opened");
    expect(await app.deliver("pull_request", payload)).toBe(200);
    const gate = app.github.checkRuns.find((c) => c.head_sha === payload.pull_request.head.sha && c.name === "Shopfloor gate");
    expect(gate).toMatchObject({ status: "completed", conclusion: "success", output: { title: "Not a Shopfloor run" } });
  });

  it("leaves a run's pull request to the run, also before the run has recorded it", async () => {
    const requested = {
      type: "run.requested" as const,
      runId: `${owner}/${repoName}#1`,
      at: new Date().toISOString(),
      deliveryId: "seed",
      repo: { owner, name: repoName, installationId },
      issue: { number: 1, title: "Add farewell", body: "" },
      sender: "Codertocat",
    };
    const seeded = decide(undefined, requested).run!;
    const store = new FileRunStore(app.stateDir);
    // A finished run holding PR 5, and one still building on its branch with no PR yet.
    await store.save({ ...seeded, phase: "gated", pending: [], pr: { number: 5, url: "https://github.example/pull/5" } });
    const building = { ...seeded, id: `${owner}/${repoName}#3`, issue: { ...seeded.issue, number: 3 }, branch: "shopfloor/3-add-farewell", pending: [] };
    await store.save(building);

    const made = await requestsDuring(async () => {
      const sync = example("pull_request", "synchronize");
      sync.number = 5;
      sync.pull_request = { ...sync.pull_request, number: 5, head: { ...sync.pull_request.head, ref: seeded.branch, sha: "5".repeat(40) } };
      expect(await app.deliver("pull_request", sync)).toBe(200);
      const opened = example("pull_request", "opened");
      opened.number = 6;
      opened.pull_request = { ...opened.pull_request, number: 6, head: { ...opened.pull_request.head, ref: building.branch, sha: "6".repeat(40) } };
      expect(await app.deliver("pull_request", opened)).toBe(200);
    });
    expect(made.filter((r) => r.includes("check-runs"))).toEqual([]);
  });
});

/** Deliveries that are signed and well-formed JSON but miss a field intake reads. */
function malformed(): { name: string; what: string; payload: any }[] {
  const cases: { name: string; what: string; payload: any }[] = [];
  const drop = (name: string, build: () => any, paths: string[]) => {
    for (const path of paths) {
      const payload = build();
      const keys = path.split(".");
      const parent = keys.slice(0, -1).reduce((o, k) => o[k], payload);
      delete parent[keys.at(-1)!];
      cases.push({ name, what: `${[name, payload.action].filter(Boolean).join(".")} without ${path}`, payload });
    }
  };
  const labeled = (action: string) => () => {
    const p = example("issues", action);
    p.label = { ...p.label, name: "agent:build" };
    return p;
  };
  drop("issues", labeled("labeled"), ["issue", "sender", "issue.number", "repository"]);
  drop("issues", labeled("unlabeled"), ["issue", "sender"]);
  drop("issue_comment", () => {
    const p = example("issue_comment", "created");
    p.comment = { ...p.comment, body: "/retry", performed_via_github_app: null };
    return p;
  }, ["comment", "sender", "issue", "comment.user"]);
  drop("check_run", () => {
    const p = example("check_run", "requested_action");
    delete p.organization;
    p.repository = helloWorld();
    p.requested_action = { identifier: "retry" };
    p.check_run = { ...p.check_run, name: "Shopfloor gate", external_id: `${owner}/${repoName}#1`, app: { ...p.check_run.app, id: 1234 } };
    return p;
  }, ["check_run", "sender", "check_run.id"]);
  drop("check_suite", () => {
    const p = example("check_suite", "completed", (e) => e.check_suite.head_branch === "changes");
    p.check_suite = { ...p.check_suite, head_branch: "shopfloor/1-add-farewell" };
    return p;
  }, ["check_suite", "repository", "check_suite.head_sha"]);
  drop("pull_request", () => example("pull_request", "closed"), ["pull_request", "repository", "pull_request.head"]);
  drop("pull_request", () => example("pull_request", "opened"), ["pull_request", "repository", "pull_request.head.sha"]);
  drop("push", () => {
    const p = example("push", undefined);
    p.ref = "refs/heads/shopfloor/1-add-farewell";
    p.commits = [{ id: "1".repeat(40), committer: { name: "A person", email: "person@example.com" }, added: [], modified: ["README.md"], removed: [] }];
    return p;
  }, ["commits", "ref", "repository"]);
  return cases;
}

describe("a malformed delivery", () => {
  it("is answered 2xx without a request to GitHub and without being kept", async () => {
    const cases = malformed();
    const answers: string[] = [];
    const made = await requestsDuring(async () => {
      for (const [i, c] of cases.entries()) {
        const status = await app.deliver(c.name, c.payload, `malformed-${i}`);
        if (status < 200 || status >= 300) answers.push(`${c.what}: ${status}`);
      }
    });
    expect(answers).toEqual([]);
    expect(made).toEqual([]);
    const kept = await Promise.all(["pending", "taken", "aside"].map((d) => readdir(join(app.stateDir, "deliveries", d)).catch(() => [] as string[])));
    expect(kept.flat().filter((n) => n.startsWith("malformed-"))).toEqual([]);
  });
});

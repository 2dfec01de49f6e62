import examples from "@octokit/webhooks-examples";
import type { Probot } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { intakeStatus } from "../../src/intake/status.js";
import { fenceGitHub } from "../github/kit.js";
import { inbox, probotWith } from "./probot.js";

const owner = "Codertocat";
const repo = "Hello-World";
const head = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

let github: ReturnType<typeof fenceGitHub>;
let box: ReturnType<typeof inbox>;
let probot: Probot;
beforeEach(async () => {
  github = fenceGitHub();
  box = inbox();
  probot = await probotWith((app) => app.on("status", (context) => intakeStatus(context, box)));
});
afterEach(() => github.close());

/** The real `status` example (Codertocat/Hello-World), with `state` and the branches that contain the commit. */
function status(state: string, branches: { name: string; sha: string }[]): any {
  const all = examples as unknown as { name: string; examples: any[] }[];
  const payload = structuredClone(all.find((e) => e.name === "status")!.examples[0]);
  payload.state = state;
  payload.context = "ci/jenkins";
  payload.branches = branches.map((b) => ({ name: b.name, commit: { sha: b.sha, url: `https://api.github.com/repos/${owner}/${repo}/commits/${b.sha}` }, protected: false }));
  return payload;
}

const deliver = (id: string, payload: any) => probot.receive({ id, name: "status", payload } as any);

describe("intakeStatus", () => {
  it("a status on the tip of a run branch asks that run to read its CI again", async () => {
    await deliver("s-1", status("failure", [{ name: "master", sha: "f".repeat(40) }, { name: "shopfloor/1-add-farewell-name", sha: head }]));

    github.verify();
    expect(box.persisted).toEqual([{ deliveryId: "s-1", event: { type: "ci.completed", runId: `${owner}/${repo}#1`, at: expect.any(String), headSha: head } }]);
    expect(box.wakes).toBe(1);
  });

  it("a pending status counts too: CI has appeared on the head", async () => {
    await deliver("s-2", status("pending", [{ name: "shopfloor/12", sha: head }]));
    expect(box.persisted.map((p) => p.event)).toEqual([expect.objectContaining({ type: "ci.completed", runId: `${owner}/${repo}#12`, headSha: head })]);
  });

  it("ignores a status on a commit that is no run branch's tip", async () => {
    // The base commit is contained in the run branch, whose tip is another commit.
    await deliver("s-3", status("success", [{ name: "master", sha: head }, { name: "shopfloor/1-add-farewell-name", sha: "a".repeat(40) }]));
    await deliver("s-4", status("success", [{ name: "feature/shopfloor/1", sha: head }]));
    await deliver("s-5", status("success", []));

    github.verify();
    expect(box.persisted).toEqual([]);
    expect(box.wakes).toBe(0);
  });

  it("a redelivery that was already persisted does not wake the engine again", async () => {
    const repeat = inbox(false);
    const again = await probotWith((app) => app.on("status", (context) => intakeStatus(context, repeat)));
    await again.receive({ id: "s-1", name: "status", payload: status("success", [{ name: "shopfloor/1-x", sha: head }]) } as any);
    expect(repeat.persisted).toHaveLength(1);
    expect(repeat.wakes).toBe(0);
  });
});

import type { Probot } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { intakeButton } from "../../src/intake/button.js";
import { fenceGitHub } from "../github/kit.js";
import { appId, example, expectInstallationToken, expectPermission, inbox, probotWith } from "./probot.js";

/** The example's repository, clicker and installation. */
const owner = "electron";
const repo = "electron";
const clicker = "codebytere";
const installationId = 690857;
const runId = `${owner}/${repo}#7`;

let github: ReturnType<typeof fenceGitHub>;
let box: ReturnType<typeof inbox>;
let probot: Probot;
beforeEach(async () => {
  github = fenceGitHub();
  box = inbox();
  probot = await probotWith((app) => app.on("check_run.requested_action", (context) => intakeButton(context, { ...box, appId })));
});
afterEach(() => github.close());

/** The real `check_run.requested_action` example, turned into a click on our gate check. */
function click(identifier: string, change: (payload: any) => void = () => {}): any {
  const payload = example("check_run", "requested_action");
  payload.check_run.name = "Shopfloor gate";
  payload.check_run.external_id = runId;
  payload.check_run.app = { ...payload.check_run.app, id: appId };
  payload.requested_action = { identifier };
  change(payload);
  return payload;
}

function deliver(id: string, payload: any) {
  return probot.receive({ id, name: "check_run", payload } as any);
}

describe("intakeButton", () => {
  it("persists a writer's Retry click as a command from the button", async () => {
    expectInstallationToken(installationId);
    expectPermission(owner, repo, clicker, "write");

    await deliver("b-retry", click("retry"));

    github.verify();
    expect(box.persisted).toEqual([
      { deliveryId: "b-retry", event: { type: "command.received", runId, at: expect.any(String), command: "retry", note: "", by: clicker, source: "button" } },
    ]);
    expect(box.wakes).toBe(1);
  });

  it("persists Escalate the same way", async () => {
    expectInstallationToken(installationId);
    expectPermission(owner, repo, clicker, "admin");
    await deliver("b-escalate", click("escalate"));
    github.verify();
    expect(box.persisted.map((p) => p.event)).toMatchObject([{ type: "command.received", command: "escalate", source: "button" }]);
  });

  it("persists a refusal when the clicker cannot write", async () => {
    expectInstallationToken(installationId);
    expectPermission(owner, repo, clicker, "triage");
    await deliver("b-triage", click("retry"));
    github.verify();
    expect(box.persisted).toEqual([
      { deliveryId: "b-triage", event: { type: "command.refused", runId, at: expect.any(String), by: clicker, command: "retry" } },
    ]);
  });

  it("ignores a button on another app's check without a request", async () => {
    await deliver("b-other-app", click("retry", (p) => (p.check_run.app = { ...p.check_run.app, id: 25811 })));
    github.verify();
    expect(box.persisted).toEqual([]);
    expect(box.wakes).toBe(0);
  });

  it("ignores another app's check that borrows our check's name", async () => {
    await deliver("b-impostor", click("retry", (p) => (p.check_run.app = { ...p.check_run.app, id: appId + 1 })));
    github.verify();
    expect(box.persisted).toEqual([]);
  });

  it("ignores a button on another check of ours", async () => {
    await deliver("b-other-check", click("retry", (p) => (p.check_run.name = "API Review")));
    github.verify();
    expect(box.persisted).toEqual([]);
  });

  it("ignores an action that is not one of the gate's buttons", async () => {
    await deliver("b-lgtm", click("lgtm|26764"));
    github.verify();
    expect(box.persisted).toEqual([]);
  });

  it.each([
    ["a run of another repository", "octo/other#7"],
    ["a malformed run id", "electron/electron#seven"],
    ["no run id", ""],
  ])("ignores a gate check whose external id is %s", async (_name, externalId) => {
    await deliver(`b-ext-${externalId}`, click("retry", (p) => (p.check_run.external_id = externalId)));
    github.verify();
    expect(box.persisted).toEqual([]);
  });

  it("ignores every button when the app id is unknown", async () => {
    probot = await probotWith((app) => app.on("check_run.requested_action", (context) => intakeButton(context, { ...box, appId: undefined })));
    await deliver("b-no-id", click("retry"));
    github.verify();
    expect(box.persisted).toEqual([]);
  });
});

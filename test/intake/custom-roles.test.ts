import nock from "nock";
import type { Probot } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { intakeLabeled } from "../../src/intake/labeled.js";
import { api, fenceGitHub } from "../github/kit.js";
import { example, expectInstallationToken, inbox, probotWith } from "./probot.js";

const owner = "Codertocat";
const repo = "Hello-World";
const installationId = 42;

let github: ReturnType<typeof fenceGitHub>;
let box: ReturnType<typeof inbox>;
let probot: Probot;
beforeEach(async () => {
  github = fenceGitHub();
  box = inbox();
  probot = await probotWith((app) => app.on("issues.labeled", (context) => intakeLabeled(context, { ...box, triggerLabel: () => "agent:build" })));
});
afterEach(() => github.close());

/** GitHub's answer for a collaborator holding an organization's custom repository role. */
function customRole(roleName: string, legacy: "write" | "read", granted: { admin: boolean; maintain: boolean; push: boolean; triage: boolean }): void {
  nock(api)
    .get(`/repos/${owner}/${repo}/collaborators/Codertocat/permission`)
    .reply(200, { permission: legacy, role_name: roleName, user: { login: "Codertocat", type: "User", permissions: { ...granted, pull: true } } });
}

function label(id: string) {
  const payload = example("issues", "labeled");
  payload.label.name = "agent:build";
  payload.installation = { id: installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" };
  return probot.receive({ id, name: "issues", payload } as any);
}

describe("labelling with a custom repository role", () => {
  it("starts a run for a custom role built on write", async () => {
    expectInstallationToken(installationId);
    customRole("deployer", "write", { admin: false, maintain: false, push: true, triage: true });
    await label("d-deployer");
    github.verify();
    expect(box.persisted.map((p) => p.event.type)).toEqual(["run.requested"]);
  });

  it("starts a run for a custom role built on maintain", async () => {
    expectInstallationToken(installationId);
    customRole("release-manager", "write", { admin: false, maintain: true, push: true, triage: true });
    await label("d-release");
    github.verify();
    expect(box.persisted.map((p) => p.event.type)).toEqual(["run.requested"]);
  });

  it("refuses a custom role without write, whatever its name", async () => {
    expectInstallationToken(installationId);
    customRole("write-docs", "read", { admin: false, maintain: false, push: false, triage: true });
    await label("d-docs");
    github.verify();
    expect(box.persisted).toEqual([]);
    expect(box.wakes).toBe(0);
  });
});

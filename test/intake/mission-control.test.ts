import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { intakeMissionControl } from "../../src/intake/mission-control.js";
import { fenceGitHub, testOctokit, at } from "../github/kit.js";
import { expectPermission, inbox } from "./probot.js";

const runId = `${at.owner}/${at.repo}#7`;
const request = { runId, owner: at.owner, repo: at.repo, by: "octocat" };
const now = () => new Date("2026-12-01T10:00:00Z");

let github: ReturnType<typeof fenceGitHub>;
let box: ReturnType<typeof inbox>;
beforeEach(() => {
  github = fenceGitHub();
  box = inbox();
});
afterEach(() => github.close());

describe("intakeMissionControl", () => {
  it("turns a writer's Retry with a note, a route and a budget into the same command a comment gives", async () => {
    expectPermission(at.owner, at.repo, "octocat", "write");
    const outcome = await intakeMissionControl(testOctokit(), { ...request, action: "retry", note: "use the\nexisting helper", model: "openai/gpt-5.4", budget: "25" }, { ...box, now });
    github.verify();
    expect(outcome).toEqual({ ok: true, text: "retry sent; the run answers on the issue." });
    expect(box.persisted).toEqual([
      {
        deliveryId: expect.stringMatching(/^mission-control:/),
        event: { type: "command.received", runId, at: "2026-12-01T10:00:00.000Z", command: "retry", note: "use the existing helper", model: "openai/gpt-5.4", budgetUsd: 25, by: "octocat", source: "mission-control" },
      },
    ]);
    expect(box.wakes).toBe(1);
  });

  it("refuses a person without write access, and the run hears of it as a refused command", async () => {
    expectPermission(at.owner, at.repo, "octocat", "read");
    const outcome = await intakeMissionControl(testOctokit(), { ...request, action: "cancel" }, { ...box, now });
    github.verify();
    expect(outcome).toEqual({ ok: false, status: 403, text: `@octocat needs write access to ${at.owner}/${at.repo} to cancel this run.` });
    expect(box.persisted.map((p) => p.event)).toEqual([{ type: "command.refused", runId, at: "2026-12-01T10:00:00.000Z", by: "octocat", command: "cancel" }]);
  });

  it("answers a bad budget or an unknown action without asking GitHub or touching the run", async () => {
    expect(await intakeMissionControl(testOctokit(), { ...request, action: "retry", budget: "lots" }, box)).toEqual({
      ok: false,
      status: 400,
      text: "--budget needs a positive number of dollars, such as --budget 25",
    });
    expect(await intakeMissionControl(testOctokit(), { ...request, action: "merge" }, box)).toMatchObject({ ok: false, status: 400 });
    github.verify();
    expect(box.persisted).toEqual([]);
  });

  it("ignores the route and budget fields on actions other than retry", async () => {
    expectPermission(at.owner, at.repo, "octocat", "maintain");
    await intakeMissionControl(testOctokit(), { ...request, action: "escalate", note: "I will take it", model: "x/y", budget: "lots" }, box);
    expect(box.persisted.map((p) => p.event)).toMatchObject([{ type: "command.received", command: "escalate", note: "I will take it", source: "mission-control" }]);
    expect(box.persisted[0]!.event).not.toHaveProperty("budgetUsd");
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { startApp, type AppHarness } from "../kit/app.js";
import type { ModelScript } from "../kit/model-server.js";
import { configYaml, goodFarewell, projectFiles, labeledPayload, reviewerScript } from "./scenario.js";
import { buildTurns, consumedTurns, full, journal, planTurn, runId, settle, waitUntil, quiesce } from "./people-kit.js";

let app: AppHarness | undefined;
afterEach(async () => {
  await quiesce(app);
  await app?.close();
  app = undefined;
});

const stallConfig = `${configYaml}limits:\n  stallMinutes: 0.02\n`;
const fastMonitor = { SHOPFLOOR_MONITOR_INTERVAL_MS: "200" };

describe("the monitor", () => {
  it("replaces a stalled worker with an adjusted brief, and the run finishes — without a model call of its own", async () => {
    const script: ModelScript = { ...reviewerScript(1), "claude-haiku-4-5": [planTurn], "gpt-5-mini": [{ hang: true }, ...buildTurns(goodFarewell)] };
    app = await startApp({ script, files: projectFiles, configYaml: stallConfig, env: fastMonitor });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId, 20_000);
    expect(app.github.unexpected).toEqual([]);
    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");
    const stalls = run.attempts.filter((a) => a.failure.reason === "worker_lost");
    expect(stalls).toEqual([expect.objectContaining({ task: "build:impl", jobId: `${runId}:build:impl:a1` })]);
    expect(stalls[0]!.failure.detail).toMatch(/^no progress for 0 min \(\d+ s\); stopped$/);
    // The replacement got a brief that says what happened.
    const generator = app.models.requests.filter((r) => r.body.model === "gpt-5-mini");
    expect(generator).toHaveLength(3);
    expect(JSON.stringify(generator[1]!.body)).toContain("The previous attempt stalled: no progress for");
    expect(JSON.stringify(generator[0]!.body)).not.toContain("The previous attempt stalled");
    // Every model request was a scripted agent turn: the monitor asked no model anything.
    expect(app.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0, "claude-opus-4-1": 0, "gpt-4.1": 0 });
    expect(app.models.requests).toHaveLength(consumedTurns(script, app.models.remaining()));
    expect(app.models.requests).toHaveLength(6);
    expect(journal(app).filter((e) => e.event.type === "job.stalled")).toHaveLength(1);
  });

  it("escalates with 'Needs manual help' after three stalls, and makes no model request itself", async () => {
    const script: ModelScript = { "claude-haiku-4-5": [planTurn], "gpt-5-mini": [{ hang: true }, { hang: true }, { hang: true }] };
    app = await startApp({ script, files: projectFiles, configYaml: stallConfig, env: fastMonitor });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId, 20_000);
    const gh = app.github;
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("escalated");
    expect(run.failure).toMatchObject({ class: "transient", reason: "worker_lost" });
    expect(run.failure?.detail).toMatch(/^build:impl stalled 3 times: no progress/);
    expect(run.subtasks.impl?.status).toBe("failed");
    expect(run.attempts.map((a) => a.jobId)).toEqual([`${runId}:build:impl:a1`, `${runId}:build:impl:a2`, `${runId}:build:impl:a3`]);
    const handoff = gh.comments.get(1)!.find((c) => c.body.includes("<!-- shopfloor:handoff:"))!;
    expect(handoff.body).toContain("Needs manual help");
    expect(gh.comments.get(1)![0]!.body).toContain("Needs manual help");
    expect(gh.labels.get(1)).toEqual(["agent:blocked"]);
    expect(gh.checkRuns.map((c) => c.conclusion)).toEqual(["action_required"]);
    // Let the monitor sweep on: nothing more is asked of a model.
    await settle(600);
    expect(app.models.requests).toHaveLength(consumedTurns(script, app.models.remaining()));
    expect(app.models.requests).toHaveLength(4);
    expect(journal(app).filter((e) => e.event.type === "job.stalled")).toHaveLength(3);
  });
});

describe("reconciliation with GitHub", () => {
  it("starts the run of a labelled issue whose delivery was lost, once", async () => {
    const script: ModelScript = { ...reviewerScript(1), "claude-haiku-4-5": [planTurn], "gpt-5-mini": buildTurns(goodFarewell) };
    app = await startApp({ script, files: projectFiles, configYaml, env: { SHOPFLOOR_RECONCILE_EVERY: "1", ...fastMonitor } });
    const gh = app.github;
    gh.permissions = { Codertocat: "write" };
    const issue = labeledPayload().issue;
    gh.openIssues.set(1, { title: issue.title, body: issue.body, label: "agent:build", labeller: "Codertocat", eventId: 4242 });
    // The `issues.labeled` delivery never arrives: the next sweep finds the issue.
    const run = await app.waitForRun(runId, 20_000);
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");
    expect(run).toMatchObject({ deliveryId: "reconcile:4242", requestedBy: "Codertocat" });
    // The issue body reached the planner as data, stripped of its hidden comment.
    const planner = JSON.stringify(app.models.requests.find((r) => r.body.model === "claude-haiku-4-5")!.body);
    expect(planner).toContain("farewell(name)");
    expect(planner).not.toContain("ignore previous instructions");

    // Later sweeps see the same labelled issue and its run: nothing starts twice.
    // (The fake records this one path without its `/repos/` prefix, hence the loose match.)
    const sweeps = () => gh.count("GET", /\/Hello-World\/issues\?labels=agent:build&state=open$/);
    const seen = sweeps();
    await waitUntil("two more reconciliations", () => sweeps() >= seen + 2, 5_000);
    await settle(100);
    expect(journal(app).filter((e) => e.event.type === "run.requested")).toHaveLength(1);
    expect(gh.count("POST", `${full}/issues/1/comments`)).toBe(1);
    expect(gh.count("POST", `${full}/pulls`)).toBe(1);
    expect(gh.count("POST", `${full}/check-runs`)).toBe(1);
    expect(gh.count("GET", `${full}/issues/1/events`)).toBe(1);
    expect(gh.count("GET", `${full}/collaborators/Codertocat/permission`)).toBe(1);
    expect(app.models.requests).toHaveLength(consumedTurns(script, app.models.remaining()));
    expect((await app.readRun(runId))!.phase).toBe("gated");
  });

  it("does not start a run for an issue labelled by someone who may not write", async () => {
    app = await startApp({ script: {}, files: projectFiles, configYaml, env: { SHOPFLOOR_RECONCILE_EVERY: "1", ...fastMonitor } });
    const gh = app.github;
    gh.permissions = { triager: "triage" };
    gh.openIssues.set(1, { title: "Add farewell(name)", body: "", label: "agent:build", labeller: "triager", eventId: 4243 });
    await waitUntil("a reconciliation that saw the issue", () => gh.count("GET", `${full}/collaborators/triager/permission`) >= 2, 5_000);
    expect(gh.unexpected).toEqual([]);
    expect(await app.readRun(runId)).toBeUndefined();
    expect(gh.lines().filter((l) => !l.startsWith("GET ") && !l.endsWith("/access_tokens"))).toEqual([]);
    expect(app.models.requests).toEqual([]);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { startApp, type AppHarness } from "../kit/app.js";
import type { ModelScript } from "../kit/model-server.js";
import type { Run } from "../../src/domain/index.js";
import { configYaml, goodFarewell, projectFiles, labeledPayload, reviewerScript } from "./scenario.js";
import {
  ScriptedCi,
  acceptEncodedRefs,
  branch,
  buildTurns,
  checkSuitePayload,
  commentPayload,
  full,
  journal,
  originTip,
  personPushes,
  planTurn,
  prClosedPayload,
  pushPayload,
  runId,
  settle,
  unlabeledPayload,
  waitForCiRunning,
  waitForPhase,
  waitUntil,
  quiesce,
} from "./people-kit.js";

let app: AppHarness | undefined;
afterEach(async () => {
  await quiesce(app);
  await app?.close();
  app = undefined;
});

const script = (): ModelScript => ({ ...reviewerScript(2), "claude-haiku-4-5": [planTurn], "gpt-5-mini": buildTurns(goodFarewell) });

async function gatedRun(): Promise<{ app: AppHarness; run: Run }> {
  app = await startApp({ script: script(), files: projectFiles, configYaml });
  app.github.permissions = { Codertocat: "write" };
  expect(await app.deliver("issues", labeledPayload())).toBe(200);
  const run = await app.waitForRun(runId);
  expect(run.phase).toBe("gated");
  expect(run.gate?.conclusion).toBe("success");
  return { app, run };
}

/** The journal position of the PR close. */
const closedAt = (h: AppHarness) => journal(h).find((e) => e.event.type === "pr.closed")?.seq ?? Infinity;
const progress = (h: AppHarness) => h.github.comments.get(1)![0]!.body;
const receivePacks = (h: AppHarness) => h.git.requests.filter((r) => r.path.endsWith("/git-receive-pack")).length;

describe("the pull request's lifecycle", () => {
  it("relabelled after its PR was closed: a fresh run on a new branch opens its own PR and never adopts the old one", async () => {
    const twice: ModelScript = { ...reviewerScript(2), "claude-haiku-4-5": [planTurn, planTurn], "gpt-5-mini": [...buildTurns(goodFarewell), ...buildTurns(goodFarewell)] };
    app = await startApp({ script: twice, files: projectFiles, configYaml });
    const h = app;
    h.github.permissions = { Codertocat: "write" };
    expect(await h.deliver("issues", labeledPayload())).toBe(200);
    const first = await h.waitForRun(runId);
    expect(await h.deliver("pull_request", prClosedPayload(first.pr!.number, false))).toBe(200);
    await waitForPhase(h, (r) => r.phase === "cancelled", "the first run to be cancelled");

    expect(await h.deliver("issues", labeledPayload())).toBe(200);
    const second = await waitForPhase(h, (r) => r.series === 2 && r.phase === "gated", "the second run to be gated", 60_000);
    expect(h.github.unexpected).toEqual([]);
    expect(second.branch).toBe(`${branch}-2`);
    expect(second.pr!.number).not.toBe(first.pr!.number);
    expect(second.gate?.conclusion).toBe("success");
    expect(h.github.count("POST", `${full}/pulls`)).toBe(2);
    // The old branch keeps the first run's work; the new one carries the second.
    expect(originTip(h)).toBe(first.headSha);
    expect(originTip(h, second.branch)).toBe(second.headSha);
    // A late close of the first PR does not touch the second run.
    expect(await h.deliver("pull_request", prClosedPayload(first.pr!.number, false))).toBe(200);
    await settle(300);
    expect((await h.readRun(runId))!.phase).toBe("gated");
  });

  it("merged: the run is done and its branch deleted, because its tip is the merged head", async () => {
    const { app: h, run: gated } = await gatedRun();
    const gh = h.github;
    acceptEncodedRefs(h);
    gh.refSha = (b) => originTip(h, b) ?? "";
    expect(originTip(h)).toBe(gated.headSha);
    const before = gh.requests.length;
    expect(await h.deliver("pull_request", prClosedPayload(gated.pr!.number, true))).toBe(200);
    const run = await waitForPhase(h, (r) => r.phase === "done", "the run to be done");
    expect(gh.unexpected).toEqual([]);
    const writes = gh.lines().slice(before).filter((l) => !l.endsWith("/access_tokens"));
    expect(writes.filter((l) => l.includes("/git/"))).toEqual([`GET ${full}/git/ref/heads/${branch}`, `DELETE ${full}/git/refs/heads/${branch}`]);
    expect(gh.deletedRefs).toEqual([branch]);
    expect(run.gate?.conclusion).toBe("success");
    expect(gh.checkRuns.map((c) => c.conclusion)).toEqual(["success"]);
    expect(progress(h)).toContain("**Status:** Done: the pull request was merged.");
    expect(gh.count("POST", /\/merge/)).toBe(0);
  });

  it("merged, but the branch moved past the merged head: the branch is kept and that is reported", async () => {
    const { app: h, run: gated } = await gatedRun();
    const gh = h.github;
    acceptEncodedRefs(h);
    gh.refSha = (b) => originTip(h, b) ?? "";
    // A commit the run never saw (its push delivery was lost) is on the branch.
    const later = personPushes(h, "NOTES.md", "Follow-up notes\n");
    expect(await h.deliver("pull_request", prClosedPayload(gated.pr!.number, true))).toBe(200);
    await waitForPhase(h, (r) => r.phase === "done", "the run to be done");
    await waitUntil("the progress note", () => progress(h).includes("**Note:**"));
    expect(gh.unexpected).toEqual([]);
    expect(gh.count("DELETE", /\/git\/refs\//)).toBe(0);
    expect(gh.deletedRefs).toEqual([]);
    expect(originTip(h)).toBe(later);
    expect(progress(h)).toContain(`**Note:** deleteBranch — kept ${branch}: its tip ${later.slice(0, 12)} is not the merged ${gated.headSha!.slice(0, 12)}`);
  });

  it("closed without merging: the run is cancelled and the branch kept", async () => {
    const { app: h, run: gated } = await gatedRun();
    const gh = h.github;
    expect(await h.deliver("pull_request", prClosedPayload(gated.pr!.number, false))).toBe(200);
    // Wait for everything the close decided (the gate republished, the progress comment), then look.
    await waitForPhase(h, () => journal(h).some((e) => e.event.type === "gate.published" && e.seq > closedAt(h)), "the gate to be republished");
    const run = (await h.readRun(runId))!;
    expect.soft(run.phase).toBe("cancelled");
    expect(gh.unexpected).toEqual([]);
    expect(run.question).toBe("the pull request was closed without merging by @Codertocat");
    expect(gh.count("DELETE", /\/git\/refs\//)).toBe(0);
    expect(gh.count("GET", /\/git\/ref\//)).toBe(0);
    expect(gh.checkRuns).toHaveLength(1);
    expect(gh.checkRuns[0]).toMatchObject({ conclusion: "action_required", output: { title: "Cancelled" } });
    expect.soft(progress(h)).toContain("**Status:** Cancelled.");
    expect(originTip(h)).toBe(gated.headSha);
  });

  it("a pull request from a fork is never acted on", async () => {
    const { app: h, run: gated } = await gatedRun();
    const payload = prClosedPayload(gated.pr!.number, true);
    payload.pull_request.head.repo = { ...payload.pull_request.head.repo, full_name: "mallory/Hello-World" };
    const before = h.github.requests.length;
    expect(await h.deliver("pull_request", payload)).toBe(200);
    await settle(250);
    expect(h.github.requests.length).toBe(before);
    expect((await h.readRun(runId))!.phase).toBe("gated");
  });

  it("the trigger label removed while the plan waits: cancelled, nothing built", async () => {
    app = await startApp({ script: script(), files: projectFiles, configYaml: `${configYaml}approval:\n  always: true\n` });
    const h = app;
    h.github.permissions = { Codertocat: "write" };
    expect(await h.deliver("issues", labeledPayload())).toBe(200);
    await waitForPhase(h, (r) => r.phase === "awaiting_approval", "the plan to wait");
    // Another label coming off changes nothing.
    expect(await h.deliver("issues", unlabeledPayload("bug"))).toBe(200);
    await settle(150);
    expect((await h.readRun(runId))!.phase).toBe("awaiting_approval");
    expect(await h.deliver("issues", unlabeledPayload())).toBe(200);
    const run = await waitForPhase(h, (r) => r.phase === "cancelled", "the run to be cancelled");
    expect(h.github.unexpected).toEqual([]);
    expect(run.question).toBe("the trigger label was removed by @Codertocat");
    expect(progress(h)).toContain("**Status:** Cancelled.");
    // An /approve afterwards builds nothing.
    expect(await h.deliver("issue_comment", commentPayload("/approve"))).toBe(200);
    await waitUntil("the answer", () => (h.github.comments.get(1) ?? []).some((c) => c.body.includes("nothing to approve")));
    expect(h.models.requests.filter((r) => r.body.model === "gpt-5-mini")).toEqual([]);
    expect(h.github.checkRuns).toEqual([]);
  });

  it("a person's push to the run branch pauses the run, and Shopfloor never overwrites it; /retry resumes on top", async () => {
    app = await startApp({ script: script(), files: projectFiles, configYaml });
    const h = app;
    const gh = h.github;
    gh.permissions = { Codertocat: "write" };
    const ci = new ScriptedCi(h);
    expect(await h.deliver("issues", labeledPayload())).toBe(200);
    const waiting = await waitForCiRunning(h, "CI on the first head");
    const pushesBefore = receivePacks(h);

    const mine = personPushes(h, "src/farewell.js", "export function farewell(name) {\n  return `Goodbye, ${name}!`; // tuned by hand\n}\n");
    // Shopfloor's own pushes (its bot identity) are not a person's.
    const own = pushPayload(waiting.headSha!, waiting.headSha!, "shopfloor@users.noreply.github.com");
    expect(await h.deliver("push", own)).toBe(200);
    await settle(150);
    expect((await h.readRun(runId))!.phase).toBe("awaiting_ci");
    // The person's commit claims Shopfloor's committer email: the commit, not the email, tells.
    expect(await h.deliver("push", pushPayload(waiting.headSha!, mine, "shopfloor@users.noreply.github.com"))).toBe(200);
    const paused = await waitForPhase(h, (r) => r.phase === "paused", "the run to pause");
    expect(paused.headSha).toBe(mine);
    expect(progress(h)).toContain("Paused: someone pushed to the run branch");

    // CI finishing red on the old head would call for a fix: a paused run does nothing.
    ci.complete(waiting.headSha!, "failure", { title: "failed", summary: "boom" });
    expect(await h.deliver("check_suite", checkSuitePayload(waiting.headSha!, "failure"))).toBe(200);
    await settle(300);
    const still = (await h.readRun(runId))!;
    expect(still.phase).toBe("paused");
    expect(still.ciFixes).toBe(0);
    expect(h.models.requests.filter((r) => r.body.model === "gpt-5-mini")).toHaveLength(2);
    expect(originTip(h)).toBe(mine);
    expect(receivePacks(h)).toBe(pushesBefore);

    // A writer's /retry resumes on top of the person's commit: checked, reviewed, gated on it.
    expect(await h.deliver("issue_comment", commentPayload("/retry"))).toBe(200);
    const onMine = await waitForCiRunning(h, "CI on the person's head", waiting.headSha);
    expect(onMine.headSha).toBe(mine);
    ci.complete(mine, "success");
    expect(await h.deliver("check_suite", checkSuitePayload(mine, "success"))).toBe(200);
    const run = await waitForPhase(h, (r) => r.phase === "gated", "the gate on the person's head");
    expect(gh.unexpected).toEqual([]);
    expect(run.gate?.conclusion).toBe("success");
    expect(gh.checkRuns.find((c) => c.head_sha === mine)).toMatchObject({ status: "completed", conclusion: "success" });
    expect(originTip(h)).toBe(mine);
    expect(receivePacks(h)).toBe(pushesBefore);
    expect(journal(h).filter((e) => e.event.type === "branch.pushed" && e.event.headSha === mine)).toHaveLength(1);
  });
});

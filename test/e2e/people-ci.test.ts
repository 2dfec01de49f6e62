import { afterEach, describe, expect, it } from "vitest";
import { startApp, type AppHarness } from "../kit/app.js";
import type { ModelScript, RecordedRequest } from "../kit/model-server.js";
import { configYaml, goodFarewell, projectFiles, labeledPayload, reviewerScript } from "./scenario.js";
import type { CiRun } from "../kit/github.js";
import { ScriptedCi, buildTurns, checkSuitePayload, ciApp, full, originTip, planTurn, runId, waitForCiRunning, waitForPhase, quiesce } from "./people-kit.js";

let app: AppHarness | undefined;
afterEach(async () => {
  await quiesce(app);
  await app?.close();
  app = undefined;
});

const fixedFarewell = "// Fixed for CI.\nexport function farewell(name) {\n  return `Goodbye, ${name}!`;\n}\n";
const ciOutput = { title: "1 check failed", summary: "lint: src/farewell.js:2 Missing JSDoc for farewell" };

/** Planner, one build, a CI fix, and two review rounds. */
const script = (): ModelScript => ({
  ...reviewerScript(2),
  "claude-haiku-4-5": [planTurn],
  "gpt-5-mini": [...buildTurns(goodFarewell), ...buildTurns(fixedFarewell, "Fixed the CI failure")],
});

async function startRun(yaml: string): Promise<{ app: AppHarness; ci: ScriptedCi }> {
  app = await startApp({ script: script(), files: projectFiles, configYaml: yaml });
  app.github.permissions = { Codertocat: "write" };
  const ci = new ScriptedCi(app);
  expect(await app.deliver("issues", labeledPayload())).toBe(200);
  return { app, ci };
}

/** The brief of the CI fix: the generator's first request of the `ci-fix-1` job. */
function ciFixBrief(h: AppHarness): string {
  const gen = h.models.requests.filter((r: RecordedRequest) => r.body.model === "gpt-5-mini");
  return JSON.stringify(gen[2]?.body ?? {});
}

describe("the repository's own CI", () => {
  it("red, then green after one context-aware fix attempt: the gate concludes success", async () => {
    const { app: h, ci } = await startRun(configYaml);
    const gh = h.github;
    const first = await waitForCiRunning(h, "CI to run on the first head");
    expect(originTip(h)).toBe(first.headSha);
    ci.complete(first.headSha!, "failure", ciOutput);
    expect(await h.deliver("check_suite", checkSuitePayload(first.headSha!, "failure"))).toBe(200);

    const second = await waitForCiRunning(h, "CI to run on the fixed head", first.headSha);
    expect(second.ciFixes).toBe(1);
    expect(second.headSha).not.toBe(first.headSha);
    expect(originTip(h)).toBe(second.headSha);
    // The fix attempt's brief named the failing check and quoted its output.
    const brief = ciFixBrief(h);
    expect(brief).toContain("The repository's CI failed on this change");
    expect(brief).toContain("build (octocoders-linter): failure");
    expect(brief).toContain(ciOutput.summary);

    ci.complete(second.headSha!, "success");
    expect(await h.deliver("check_suite", checkSuitePayload(second.headSha!, "success"))).toBe(200);
    const run = await waitForPhase(h, (r) => r.phase === "gated", "the gate to conclude");
    expect(gh.unexpected).toEqual([]);
    expect(run.gate?.conclusion).toBe("success");
    expect(run.ci).toEqual([expect.objectContaining({ name: "build", status: "completed", conclusion: "success" })]);
    // One gate check per head: the red head's is concluded as superseded, the fixed head's success.
    const gates = gh.checkRuns.filter((c) => c.name === "Shopfloor gate");
    expect(gates.map((c) => [c.head_sha, c.status, c.conclusion ?? null, c.output.title])).toEqual([
      [first.headSha, "completed", "failure", `Superseded by ${second.headSha!.slice(0, 12)}`],
      [second.headSha, "completed", "success", expect.stringMatching(/^Definition of Done: \d+\/\d+ proven$/)],
    ]);
    expect(gh.count("POST", `${full}/pulls`)).toBe(1);
    expect(h.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0, "claude-opus-4-1": 0, "gpt-4.1": 0 });
    expect(gh.ready).toEqual([gh.pulls[0]!.number]);
  });

  it("red past the bound: escalated, and the handoff quotes the failing check's output", async () => {
    const { app: h, ci } = await startRun(configYaml.replace("ci:\n", "ci:\n  fixAttempts: 1\n"));
    const gh = h.github;
    const first = await waitForCiRunning(h, "CI to run on the first head");
    ci.complete(first.headSha!, "failure", ciOutput);
    expect(await h.deliver("check_suite", checkSuitePayload(first.headSha!, "failure"))).toBe(200);
    const second = await waitForCiRunning(h, "CI to run on the fixed head", first.headSha);
    ci.complete(second.headSha!, "failure", ciOutput);
    expect(await h.deliver("check_suite", checkSuitePayload(second.headSha!, "failure"))).toBe(200);

    const run = await waitForPhase(h, (r) => r.phase === "escalated", "the run to escalate");
    expect(gh.unexpected).toEqual([]);
    expect(run.ciFixes).toBe(1);
    expect(run.failure?.detail).toContain("the repository's CI failed after 1 fix attempt(s)");
    expect(run.failure?.detail).toContain(ciOutput.summary);
    const handoff = gh.comments.get(1)!.find((c) => c.body.includes("<!-- shopfloor:handoff:"))!;
    expect(handoff.body).toContain("The repository's CI stays red");
    expect(handoff.body).toContain("build (octocoders-linter): failure");
    expect(handoff.body).toContain(ciOutput.summary);
    expect(gh.labels.get(1)).toEqual(["agent:blocked"]);
    const gate = gh.checkRuns.find((c) => c.head_sha === second.headSha && c.name === "Shopfloor gate")!;
    expect(gate).toMatchObject({ status: "completed", conclusion: "action_required" });
    // One fix attempt only: no third generator job.
    expect(h.models.requests.filter((r) => r.body.model === "gpt-5-mini")).toHaveLength(4);
  });

  /**
   * CI that other apps create only after Shopfloor first looks: the first read of the head finds
   * nothing, the read at the end of the grace finds `build` running.
   */
  function ciAppearingLate(h: AppHarness): Map<string, CiRun> {
    const bySha = new Map<string, CiRun>();
    Object.defineProperty(h.github, "ci", {
      configurable: true,
      get: () => {
        const tip = originTip(h);
        const reads = h.github.requests.filter((r) => r.method === "GET" && r.path.endsWith(`/commits/${tip}/check-suites`)).length;
        if (tip && reads >= 2 && !bySha.has(tip)) bySha.set(tip, { head_sha: tip, name: "build", app: ciApp, status: "in_progress", conclusion: null });
        return [...bySha.values()];
      },
      set: () => undefined,
    });
    return bySha;
  }

  const gateOn = (h: AppHarness, sha: string) => h.github.checkRuns.filter((c) => c.name === "Shopfloor gate" && c.head_sha === sha);

  it("an empty first read does not pass: CI that appears within the grace is waited for", async () => {
    app = await startApp({ script: { ...reviewerScript(1), "claude-haiku-4-5": [planTurn], "gpt-5-mini": buildTurns(goodFarewell) }, files: projectFiles, configYaml: configYaml.replace("graceMinutes: 0", "graceMinutes: 0.02") });
    const h = app;
    h.github.permissions = { Codertocat: "write" };
    const ci = ciAppearingLate(h);
    expect(await h.deliver("issues", labeledPayload())).toBe(200);

    const waiting = await waitForCiRunning(h, "CI that appeared within the grace to be waited for");
    const head = waiting.headSha!;
    // The first read saw nothing, yet the gate did not conclude on it.
    expect(h.github.requests.filter((r) => r.path.endsWith(`/commits/${head}/check-suites`))).toHaveLength(2);
    expect(gateOn(h, head).map((c) => c.status)).toEqual(["in_progress"]);

    Object.assign(ci.get(head)!, { status: "completed", conclusion: "success" });
    expect(await h.deliver("check_suite", checkSuitePayload(head, "success"))).toBe(200);
    const run = await waitForPhase(h, (r) => r.phase === "gated", "the gate to conclude");
    expect(h.github.unexpected).toEqual([]);
    expect(run.gate?.items.find((i) => i.item === "Repository CI green on the head commit")).toEqual({ item: "Repository CI green on the head commit", state: "pass", evidence: "build: success" });
    expect(gateOn(h, head).map((c) => [c.status, c.conclusion])).toEqual([["completed", "success"]]);
  });

  it("no CI at all: the gate passes after the grace and says it waited and saw none", async () => {
    app = await startApp({ script: { ...reviewerScript(1), "claude-haiku-4-5": [planTurn], "gpt-5-mini": buildTurns(goodFarewell) }, files: projectFiles, configYaml: configYaml.replace("graceMinutes: 0", "graceMinutes: 0.01") });
    const h = app;
    h.github.permissions = { Codertocat: "write" };
    expect(await h.deliver("issues", labeledPayload())).toBe(200);

    const run = await waitForPhase(h, (r) => r.phase === "gated", "the gate to conclude");
    expect(h.github.unexpected).toEqual([]);
    // Read twice: once at once, once when the grace ended.
    expect(h.github.requests.filter((r) => r.path.endsWith(`/commits/${run.headSha}/check-suites`))).toHaveLength(2);
    const gate = gateOn(h, run.headSha!).at(-1)!;
    expect(gate).toMatchObject({ status: "completed", conclusion: "success" });
    expect(gate.output.summary).toContain("no CI: waited 0.01 min (ci.graceMinutes) for other apps' checks or commit statuses on this commit and saw none");
  });
});


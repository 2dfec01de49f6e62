import { afterEach, describe, expect, it } from "vitest";
import { startApp, type AppHarness } from "../kit/app.js";
import type { ModelScript } from "../kit/model-server.js";
import type { Run } from "../../src/domain/index.js";
import { configYaml, goodFarewell, projectFiles, labeledPayload, reviewerScript } from "./scenario.js";
import {
  blockedTurn,
  buildTurns,
  buttonPayload,
  commentPayload,
  full,
  journal,
  planTurn,
  runId,
  settle,
  ScriptedCi,
  pullsWithRepos,
  waitForCiRunning,
  waitForPhase,
  waitUntil,
  quiesce,
} from "./people-kit.js";

/** The journal position of the writer's command. */
const commandAt = (h: AppHarness) => journal(h).find((e) => e.event.type === "command.received")?.seq ?? Infinity;

let app: AppHarness | undefined;
afterEach(async () => {
  await quiesce(app);
  await app?.close();
  app = undefined;
});

const people = { Codertocat: "write", triager: "triage", reader: "read", "renovate[bot]": "write" };
const approvalConfig = `${configYaml}approval:\n  always: true\n`;

/** A run whose generator reported `blocked`: escalated, gate `action_required` on the base commit. */
async function escalatedRun(extra: ModelScript = {}): Promise<{ app: AppHarness; run: Run }> {
  const script: ModelScript = { ...reviewerScript(1), "claude-haiku-4-5": [planTurn], "gpt-5-mini": [blockedTurn, ...buildTurns(goodFarewell)], ...extra };
  app = await startApp({ script, files: projectFiles, configYaml });
  app.github.permissions = { ...people };
  expect(await app.deliver("issues", labeledPayload())).toBe(200);
  const run = await app.waitForRun(runId);
  expect(run.phase).toBe("escalated");
  expect(run.failure?.reason).toBe("blocked");
  return { app, run };
}

/** A run whose plan waits for `/approve` (the repo asks for approval of every plan). */
async function awaitingApproval(): Promise<{ app: AppHarness; run: Run }> {
  const script: ModelScript = { ...reviewerScript(1), "claude-haiku-4-5": [planTurn], "gpt-5-mini": buildTurns(goodFarewell) };
  app = await startApp({ script, files: projectFiles, configYaml: approvalConfig });
  app.github.permissions = { ...people };
  expect(await app.deliver("issues", labeledPayload())).toBe(200);
  const run = await waitForPhase(app, (r) => r.phase === "awaiting_approval", "the plan to wait for approval");
  return { app, run };
}

/** Replies Shopfloor posted (found again by their marker), in order. */
const replies = (h: AppHarness) => (h.github.comments.get(1) ?? []).filter((c) => c.body.includes("<!-- shopfloor:reply:")).map((c) => c.body.split("\n").slice(1).join("\n"));
const modelRequests = (h: AppHarness, model: string) => h.models.requests.filter((r) => r.body.model === model);

/**
 * What nobody but a writer may do: the same command from a bot, inside a code fence and inside
 * a quote is not even looked at; triage and read users get one polite refusal each, however often they ask.
 */
async function onlyWritersSteer(h: AppHarness, command: string): Promise<void> {
  const before = await h.readRun(runId);
  const ghBefore = h.github.requests.length;
  const modelsBefore = h.models.requests.length;
  const journalBefore = journal(h).length;
  for (const payload of [
    commentPayload(command, { sender: "renovate[bot]", senderType: "Bot" }),
    commentPayload(`Try this:\n\n\`\`\`\n${command}\n\`\`\``),
    commentPayload(`~~~\n${command}\n~~~`),
    commentPayload(`> ${command}\n\nI don't think we should.`),
    commentPayload(`> quoting someone\n${command}`),
  ]) {
    expect(await h.deliver("issue_comment", payload)).toBe(200);
  }
  await settle(200);
  expect(h.github.requests.slice(ghBefore)).toEqual([]);
  expect(h.models.requests.length).toBe(modelsBefore);
  expect(journal(h).length).toBe(journalBefore);

  for (const sender of ["triager", "reader", "triager", "reader"]) {
    expect(await h.deliver("issue_comment", commentPayload(`${command} please`, { sender }))).toBe(200);
  }
  await waitUntil("four refusals journaled", async () => journal(h).filter((e) => e.event.type === "command.refused").length === 4 && (await h.readRun(runId))!.pending.length === 0);
  await settle(150);
  const name = command.split(" ")[0];
  expect(replies(h)).toEqual([
    `@triager thanks — only people with write access to this repository can steer Shopfloor, so \`${name}\` was not acted on.`,
    `@reader thanks — only people with write access to this repository can steer Shopfloor, so \`${name}\` was not acted on.`,
  ]);
  const asked = h.github.lines().slice(ghBefore).filter((l) => !l.endsWith("/access_tokens"));
  expect(asked.filter((l) => !l.startsWith("GET "))).toEqual([`POST ${full}/issues/1/comments`, `POST ${full}/issues/1/comments`]);
  expect(asked.filter((l) => l.includes("/permission"))).toEqual([
    `GET ${full}/collaborators/triager/permission`,
    `GET ${full}/collaborators/reader/permission`,
    `GET ${full}/collaborators/triager/permission`,
    `GET ${full}/collaborators/reader/permission`,
  ]);
  expect(h.github.reactions).toEqual([]);
  expect(h.models.requests.length).toBe(modelsBefore);
  const after = (await h.readRun(runId))!;
  expect(after.phase).toBe(before!.phase);
  expect(after.refused).toEqual(["triager", "reader"]);
}

/** The writer's command: acknowledged with 👀 on the comment, then answered. */
async function writerSays(h: AppHarness, body: string, opts: { onPull?: number } = {}): Promise<number> {
  const payload = commentPayload(body, opts.onPull ? { issueNumber: opts.onPull, onPull: true } : {});
  expect(await h.deliver("issue_comment", payload)).toBe(200);
  await waitUntil("the 👀 reaction", () => h.github.reactions.some((r) => r.commentId === payload.comment.id));
  expect(h.github.reactions.filter((r) => r.commentId === payload.comment.id)).toEqual([{ commentId: payload.comment.id, content: "eyes" }]);
  return payload.comment.id as number;
}

describe("commands on a run, by who may and may not steer it", () => {
  it("/retry on an escalated run: resumes the build with the note and the failure in the brief, and finishes", async () => {
    const { app: h } = await escalatedRun();
    const gh = h.github;
    expect(gh.checkRuns).toHaveLength(1);
    expect(gh.checkRuns[0]).toMatchObject({ conclusion: "action_required", status: "completed" });
    await onlyWritersSteer(h, "/retry");
    expect(modelRequests(h, "gpt-5-mini")).toHaveLength(1);

    await writerSays(h, "/retry greet people the way src/greet.js does");
    const run = await h.waitForRun(runId);
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");
    expect(run.generation).toBe(1);
    // The new attempt is a new job of a new generation, with the person's note and the failure in its brief.
    const retried = modelRequests(h, "gpt-5-mini");
    expect(retried).toHaveLength(3);
    const brief = JSON.stringify(retried[1]!.body);
    expect(brief).toContain("asked for a retry: \\\"greet people the way src/greet.js does\\\"");
    expect(brief).toContain("permanent / blocked: subtask impl reported blocked: The brief does not say which greeting style to use");
    expect(replies(h).at(-1)).toBe("@Codertocat retrying from `building`.");
    expect(gh.count("DELETE", `${full}/issues/1/labels/agent:blocked`)).toBe(1);
    expect(h.models.remaining()).toEqual({ "claude-haiku-4-5": 0, "gpt-5-mini": 0, "claude-opus-4-1": 0, "gpt-4.1": 0 });
    expect(gh.count("POST", `${full}/pulls`)).toBe(1);
  });

  it("/retry --model runs the next attempt on that route and finishes", async () => {
    const { app: h } = await escalatedRun({ "gpt-5-nano": buildTurns(goodFarewell, "Implemented on nano") });
    await writerSays(h, "/retry --model openai/gpt-5-nano use the nano model");
    const run = await h.waitForRun(runId);
    expect(h.github.unexpected).toEqual([]);
    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");
    expect(modelRequests(h, "gpt-5-nano")).toHaveLength(2);
    expect(modelRequests(h, "gpt-5-mini")).toHaveLength(1);
    expect(run.subtasks.impl?.result?.summary).toBe("Implemented on nano");
    expect([...new Set(run.usage.filter((u) => u.role === "generate").map((u) => u.model))]).toEqual(["gpt-5-mini", "gpt-5-nano"]);
    expect(replies(h).at(-1)).toBe("@Codertocat retrying from `building` on `openai/gpt-5-nano`.");
  });

  it("/escalate on a run that waits for approval: stops it with gate action_required and the handoff", async () => {
    const { app: h, run: waiting } = await awaitingApproval();
    await onlyWritersSteer(h, "/escalate");
    await writerSays(h, "/escalate this touches the public API");
    const run = await h.waitForRun(runId);
    const gh = h.github;
    expect(gh.unexpected).toEqual([]);
    expect(run.phase).toBe("escalated");
    expect(run.failure).toMatchObject({ reason: "blocked", detail: "escalated by @Codertocat: this touches the public API" });
    // The gate: action_required on the base commit, with the Retry button.
    const gate = gh.checkRuns.find((c) => c.external_id === runId)!;
    expect(gate).toMatchObject({ name: "Shopfloor gate", head_sha: waiting.baseSha, status: "completed", conclusion: "action_required" });
    const gateBody = gh.requests.find((r) => r.method === "POST" && r.path === `${full}/check-runs`)!.body;
    expect(gateBody.actions).toEqual([{ label: "Retry", description: "Run the failed step again", identifier: "retry" }]);
    const handoff = gh.comments.get(1)!.find((c) => c.body.includes("<!-- shopfloor:handoff:"))!;
    expect(handoff.body).toContain("### Shopfloor needs a person");
    expect(handoff.body).toContain("**Question:** this touches the public API");
    expect(handoff.body).toContain("escalated by @Codertocat: this touches the public API");
    expect(gh.labels.get(1)).toEqual(["agent:blocked"]);
    expect(replies(h).at(-1)).toBe("@Codertocat stopped the run and posted the handoff.");
    // Nothing was built.
    expect(modelRequests(h, "gpt-5-mini")).toEqual([]);
  });

  it("/approve on a plan that waits: builds and finishes", async () => {
    const { app: h } = await awaitingApproval();
    await onlyWritersSteer(h, "/approve");
    expect(modelRequests(h, "gpt-5-mini")).toEqual([]);
    await writerSays(h, "/approve");
    const run = await h.waitForRun(runId);
    expect(h.github.unexpected).toEqual([]);
    expect(run).toMatchObject({ phase: "gated", approvedBy: "Codertocat", gate: { conclusion: "success" } });
    expect(modelRequests(h, "gpt-5-mini")).toHaveLength(2);
    expect(replies(h).at(-1)).toBe("@Codertocat approved the plan; building now.");
  });

  it("/cancel on a plan that waits: cancelled, nothing is built", async () => {
    const { app: h } = await awaitingApproval();
    await writerSays(h, "/cancel");
    const run = await h.waitForRun(runId);
    expect(h.github.unexpected).toEqual([]);
    expect(run.phase).toBe("cancelled");
    expect(replies(h).at(-1)).toBe("@Codertocat cancelled the run.");
    expect(h.github.comments.get(1)![0]!.body).toContain("**Status:** Cancelled.");
    await settle(200);
    expect(modelRequests(h, "gpt-5-mini")).toEqual([]);
    // Once cancelled, nothing is left to approve.
    await writerSays(h, "/approve");
    await waitUntil("the answer", () => replies(h).length === 2);
    expect(replies(h).at(-1)).toBe("@Codertocat there is nothing to approve: the run is `cancelled`.");
    expect(modelRequests(h, "gpt-5-mini")).toEqual([]);
  });

  it("/cancel on an escalated run: cancelled for good, so it is no longer waiting on a person", async () => {
    const { app: h } = await escalatedRun();
    await onlyWritersSteer(h, "/cancel");
    await writerSays(h, "/cancel");
    await waitUntil("the answer", () => replies(h).length === 3);
    const run = (await h.readRun(runId))!;
    expect(h.github.unexpected).toEqual([]);
    expect(replies(h).at(-1)).toBe("@Codertocat cancelled the run.");
    expect(run.phase).toBe("cancelled");
    expect(modelRequests(h, "gpt-5-mini")).toHaveLength(1);
  });

  it("/cancel while CI runs on the PR: cancelled, the gate says so, and it stays cancelled", async () => {
    const script: ModelScript = { ...reviewerScript(1), "claude-haiku-4-5": [planTurn], "gpt-5-mini": buildTurns(goodFarewell) };
    app = await startApp({ script, files: projectFiles, configYaml });
    const h = app;
    h.github.permissions = { ...people };
    new ScriptedCi(h);
    pullsWithRepos(h);
    expect(await h.deliver("issues", labeledPayload())).toBe(200);
    const waiting = await waitForCiRunning(h, "CI on the head");
    await writerSays(h, "/cancel", { onPull: waiting.pr!.number });
    await waitForPhase(h, () => journal(h).some((e) => e.event.type === "gate.published" && e.seq > commandAt(h)), "the gate to be republished");
    const run = (await h.readRun(runId))!;
    expect(h.github.unexpected).toEqual([]);
    // The reply goes where the command was given: the PR.
    expect((h.github.comments.get(waiting.pr!.number) ?? []).map((c) => c.body.split("\n").slice(1).join("\n"))).toEqual(["@Codertocat cancelled the run."]);
    expect(h.github.checkRuns.find((c) => c.head_sha === waiting.headSha)).toMatchObject({ status: "completed", conclusion: "action_required", output: { title: "Cancelled" } });
    expect(run.phase).toBe("cancelled");
  });

  it("/status answers with the state and the spend", async () => {
    const { app: h } = await escalatedRun();
    await onlyWritersSteer(h, "/status");
    await writerSays(h, "/status");
    await waitUntil("the status reply", () => replies(h).length === 3);
    const status = replies(h).at(-1)!;
    expect(status).toMatch(/^@Codertocat \n\n\*\*Status:\*\* `escalated` — Stopped and handed to a person/);
    expect(status).toMatch(/\*\*Spend:\*\* \$\d+\.\d{4} of \$5, 2750 tokens/);
    expect(h.github.unexpected).toEqual([]);
    expect((await h.readRun(runId))!.phase).toBe("escalated");
  });

  it("/help lists the commands", async () => {
    const { app: h } = await escalatedRun();
    await onlyWritersSteer(h, "/help");
    await writerSays(h, "/help");
    await waitUntil("the help reply", () => replies(h).length === 3);
    const help = replies(h).at(-1)!;
    for (const command of ["/retry [note]", "--model", "--budget", "/escalate [reason]", "/approve", "/cancel", "/status", "/help"]) expect(help).toContain(command);
    expect(h.github.unexpected).toEqual([]);
    expect((await h.readRun(runId))!.phase).toBe("escalated");
    expect(h.models.requests.filter((r) => r.body.model === "gpt-5-mini")).toHaveLength(1);
  });
});

describe("the gate check's Retry button", () => {
  it("by a writer acts like /retry; by a read user is refused once", async () => {
    const { app: h } = await escalatedRun();
    const gh = h.github;
    const gate = gh.checkRuns[0]!;
    const before = gh.requests.length;
    // A read user clicks twice: one polite refusal.
    expect(await h.deliver("check_run", buttonPayload("retry", gate, "reader"))).toBe(200);
    expect(await h.deliver("check_run", buttonPayload("retry", gate, "reader"))).toBe(200);
    await waitUntil("two refusals journaled", async () => journal(h).filter((e) => e.event.type === "command.refused").length === 2 && (await h.readRun(runId))!.pending.length === 0);
    await settle(150);
    expect(replies(h)).toEqual(["@reader thanks — only people with write access to this repository can steer Shopfloor, so `/retry` was not acted on."]);
    expect(gh.lines().slice(before).filter((l) => !l.startsWith("GET ") && !l.endsWith("/access_tokens"))).toEqual([`POST ${full}/issues/1/comments`]);
    expect(h.models.requests.filter((r) => r.body.model === "gpt-5-mini")).toHaveLength(1);

    // A bot's click and a click on someone else's check are not looked at.
    const n = gh.requests.length;
    const bot = buttonPayload("retry", gate, "renovate[bot]");
    bot.sender.type = "Bot";
    const foreign = buttonPayload("retry", gate);
    foreign.check_run.app.id = 25811;
    for (const p of [bot, foreign]) expect(await h.deliver("check_run", p)).toBe(200);
    await settle(150);
    expect(gh.requests.length).toBe(n);

    expect(await h.deliver("check_run", buttonPayload("retry", gate))).toBe(200);
    const run = await waitForPhase(h, (r) => r.phase === "gated", "the retried run to finish");
    expect(gh.unexpected).toEqual([]);
    expect(run.gate?.conclusion).toBe("success");
    expect(run.generation).toBe(1);
    expect(h.models.requests.filter((r) => r.body.model === "gpt-5-mini")).toHaveLength(3);
    expect(replies(h).at(-1)).toBe("@Codertocat retrying from `building`.");
    // A button has no comment to react to.
    expect(gh.reactions).toEqual([]);
  });
});

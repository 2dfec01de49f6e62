import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { WorkerReportSchema, type Usage } from "../../src/domain/index.js";
import type { ChatModel, ChatRequest, ChatResponse, ToolCall } from "../../src/models/types.js";
import { finishDef, runAgent } from "../../src/workers/agent-loop.js";
import { buildTools, roleAllowance } from "../../src/workers/tools.js";

/** Replays scripted turns (a response or an error to throw) and keeps every request it saw. */
class ScriptedModel implements ChatModel {
  readonly route = "fake/scripted";
  readonly provider = "fake";
  readonly model = "scripted";
  readonly requests: ChatRequest[] = [];
  constructor(private readonly turns: Array<ChatResponse | Error>) {}
  async complete(request: ChatRequest): Promise<ChatResponse> {
    // Copy: the loop keeps appending to the same array.
    this.requests.push({ ...request, messages: [...request.messages] });
    const next = this.turns.shift();
    if (!next) throw new Error("script exhausted");
    if (next instanceof Error) throw next;
    return next;
  }
}

const usage = (n: number): Usage => ({ provider: "fake", model: "scripted", inputTokens: n, outputTokens: 1, cachedTokens: 0, costUsd: null });
let seq = 0;
const toolCall = (name: string, args: unknown): ToolCall => ({ id: `call_${++seq}`, name, args, raw: JSON.stringify(args) });
const turn = (calls: ToolCall[], text = ""): ChatResponse => ({ text, toolCalls: calls, usage: usage(10), stop: calls.length ? "tool_use" : "end" });

const report = {
  status: "ok",
  confidence: 0.9,
  summary: "Added the flag.",
  handoff: { completed: ["flag"], remaining: [], commands: [{ cmd: "npm test", exitCode: 0, ms: 900 }], issues: [], followedProcedure: true },
};
const finish = { schema: WorkerReportSchema, description: "Report the result." };

let base: string;
let wt: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "shopfloor-loop-"));
  wt = path.join(base, "wt");
  await mkdir(path.join(wt, "src"), { recursive: true });
  await writeFile(path.join(wt, "src", "a.ts"), "export const a = 1;\n");
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function roleTools(role: "generator" | "reviewer", refusals: string[] = []) {
  return buildTools(role, [...roleAllowance[role]], {
    worktree: wt,
    ownedFiles: ["src/a.ts"],
    testPaths: ["test/"],
    runCommand: async (command) => ({ exitCode: 0, ms: 5, output: `ok ${command}`, timedOut: false, truncated: false }),
    onRefusal: (tool, why) => refusals.push(`${tool}: ${why}`),
  });
}

describe("runAgent", () => {
  it("runs tools, then returns the validated finish output with usage and trace", async () => {
    const model = new ScriptedModel([
      turn([toolCall("read_file", { path: "src/a.ts" })]),
      turn([toolCall("edit_file", { path: "src/a.ts", old: "= 1", new: "= 2" }), toolCall("run", { command: "npm test" })]),
      turn([toolCall("finish", report)]),
    ]);
    const progress: Array<{ turn: number; toolCalls: number }> = [];
    const outcome = await runAgent({
      model,
      system: "You are a generator.",
      task: "Change a to 2.",
      tools: roleTools("generator"),
      finish,
      maxTurns: 10,
      onProgress: (p) => progress.push(p),
    });

    expect(outcome).toMatchObject({ ok: true, output: report, turns: 3 });
    expect(outcome.usage).toHaveLength(3);
    expect(outcome.trace).toEqual([
      { turn: 1, tool: "read_file", ok: true, note: "src/a.ts" },
      { turn: 2, tool: "edit_file", ok: true, note: "src/a.ts" },
      { turn: 2, tool: "run", ok: true, note: "npm test" },
      { turn: 3, tool: "finish", ok: true, note: "finished" },
    ]);
    // Each turn's report carries the spend so far, so a person watching sees it grow.
    expect(progress).toEqual([
      { turn: 1, toolCalls: 1, costUsd: 0, tokens: 11 },
      { turn: 2, toolCalls: 3, costUsd: 0, tokens: 22 },
      { turn: 3, toolCalls: 4, costUsd: 0, tokens: 33 },
    ]);
    expect(await readFile(path.join(wt, "src", "a.ts"), "utf8")).toBe("export const a = 2;\n");

    // The model saw the tool results, and was offered the tools plus finish.
    const second = model.requests[1];
    expect(second?.system).toBe("You are a generator.");
    expect(second?.messages.at(-1)).toMatchObject({ role: "tool", results: [{ name: "read_file", content: "export const a = 1;\n", isError: false }] });
    expect(second?.tools.map((t) => t.name)).toEqual(["read_file", "list_files", "search", "write_file", "edit_file", "run", "finish"]);
  });

  it("offers finish with the output schema as provider-friendly JSON Schema", () => {
    const def = finishDef(finish);
    expect(def.name).toBe("finish");
    expect(def.inputSchema).not.toHaveProperty("$schema");
    expect(def.inputSchema).toMatchObject({ type: "object", required: expect.arrayContaining(["status", "confidence", "summary", "handoff"]) });
  });

  it("sends a malformed finish back with the validation error and accepts the corrected one", async () => {
    const model = new ScriptedModel([
      turn([toolCall("finish", { ...report, confidence: 7 })]),
      turn([toolCall("finish", report)]),
    ]);
    const outcome = await runAgent({ model, system: "s", task: "t", tools: [], finish, maxTurns: 5 });
    expect(outcome).toMatchObject({ ok: true, output: report, turns: 2 });
    const correction = model.requests[1]?.messages.at(-1);
    expect(correction).toMatchObject({ role: "tool", results: [{ name: "finish", isError: true }] });
    expect(JSON.stringify(correction)).toContain("confidence");
    expect(outcome.trace.map((t) => [t.tool, t.ok])).toEqual([["finish", false], ["finish", true]]);
  });

  it("fails with invalid_output once the corrections are used up", async () => {
    const model = new ScriptedModel([
      turn([toolCall("finish", { ...report, status: "done" })]),
      turn([toolCall("finish", { ...report, status: "done" })]),
    ]);
    const outcome = await runAgent({ model, system: "s", task: "t", tools: [], finish, maxTurns: 5, maxCorrections: 1 });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure).toMatchObject({ class: "permanent", reason: "invalid_output" });
    expect(outcome.failure.detail).toMatch(/status/);
    expect(outcome.turns).toBe(2);
    expect(outcome.usage).toHaveLength(2);
  });

  it("allows two corrections by default, counting replies without a tool call", async () => {
    const model = new ScriptedModel([
      turn([], "I think I am done."),
      { text: "", toolCalls: [{ id: "x", name: "finish", args: undefined, raw: "{not json" }], usage: usage(1), stop: "tool_use" },
      turn([toolCall("finish", {})]),
      turn([toolCall("finish", report)]),
    ]);
    const outcome = await runAgent({ model, system: "s", task: "t", tools: [], finish, maxTurns: 10 });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure).toMatchObject({ class: "permanent", reason: "invalid_output" });
    expect(outcome.turns).toBe(3);
    const nudge = model.requests[1]?.messages.at(-1);
    expect(nudge).toMatchObject({ role: "user" });
    expect(JSON.stringify(nudge)).toContain("finish");
    expect(JSON.stringify(model.requests[2]?.messages.at(-1))).toContain("not valid JSON");
  });

  it("stops at the turn cap with a typed failure", async () => {
    const model = new ScriptedModel(Array.from({ length: 5 }, () => turn([toolCall("list_files", {})])));
    const outcome = await runAgent({ model, system: "s", task: "t", tools: roleTools("reviewer"), finish, maxTurns: 3 });
    expect(outcome).toMatchObject({
      ok: false,
      turns: 3,
      failure: { class: "permanent", reason: "invalid_output", detail: "turn cap 3 reached without finish" },
    });
    expect(model.requests).toHaveLength(3);
    expect(outcome.trace).toHaveLength(3);
  });

  it("classifies a 429 from the model as a transient rate limit", async () => {
    const error = Object.assign(new Error("Too Many Requests"), { status: 429, headers: { "retry-after": "7" } });
    const model = new ScriptedModel([turn([toolCall("list_files", {})]), error]);
    const outcome = await runAgent({ model, system: "s", task: "t", tools: roleTools("reviewer"), finish, maxTurns: 5 });
    expect(outcome).toMatchObject({
      ok: false,
      turns: 2,
      failure: { class: "transient", reason: "rate_limit", retryAfterMs: 7000 },
    });
    expect(outcome.usage).toHaveLength(1);
  });

  it("ends as a timeout when its signal is aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("job timeout 900 s"));
    const model = new ScriptedModel([turn([toolCall("finish", report)])]);
    const outcome = await runAgent({ model, system: "s", task: "t", tools: [], finish, maxTurns: 5, signal: controller.signal });
    expect(outcome).toMatchObject({ ok: false, turns: 0, failure: { class: "transient", reason: "timeout" } });
    expect(model.requests).toHaveLength(0);
  });

  it("answers a reviewer's crafted write_file call as an unknown tool, and nothing is written", async () => {
    const model = new ScriptedModel([
      turn([toolCall("write_file", { path: "src/a.ts", content: "pwned" })]),
      turn([toolCall("finish", report)]),
    ]);
    const refusals: string[] = [];
    const outcome = await runAgent({ model, system: "s", task: "t", tools: roleTools("reviewer", refusals), finish, maxTurns: 5 });
    expect(outcome.ok).toBe(true);
    expect(model.requests[0]?.tools.map((t) => t.name)).not.toContain("write_file");
    expect(model.requests[1]?.messages.at(-1)).toMatchObject({
      role: "tool",
      results: [{ name: "write_file", isError: true, content: expect.stringMatching(/unknown tool "write_file"/) }],
    });
    expect(outcome.trace[0]).toMatchObject({ tool: "write_file", ok: false });
    expect(await readFile(path.join(wt, "src", "a.ts"), "utf8")).toBe("export const a = 1;\n");
  });

  it("records a refused write in the trace with its reason", async () => {
    const model = new ScriptedModel([
      turn([toolCall("write_file", { path: "../escape.txt", content: "x" })]),
      turn([toolCall("finish", report)]),
    ]);
    const refusals: string[] = [];
    const outcome = await runAgent({ model, system: "s", task: "t", tools: roleTools("generator", refusals), finish, maxTurns: 5 });
    expect(outcome.ok).toBe(true);
    expect(outcome.trace[0]).toMatchObject({ tool: "write_file", ok: false, note: expect.stringMatching(/^\.\.\/escape\.txt: refused: .*outside/) });
    expect(refusals).toHaveLength(1);
  });

  it("works with any zod output schema", async () => {
    const schema = z.object({ verdict: z.enum(["yes", "no"]) });
    const model = new ScriptedModel([turn([toolCall("finish", { verdict: "yes" })])]);
    const outcome = await runAgent({ model, system: "s", task: "t", tools: [], finish: { schema, description: "d" }, maxTurns: 1 });
    expect(outcome).toMatchObject({ ok: true, output: { verdict: "yes" } });
  });
});

/**
 * What a team's test reads back from the scripted server must not depend on the vendor: the
 * same agent loop over Anthropic Messages, OpenAI chat completions and the Responses API gives
 * the same system prompt, task and tool names, and the same scripted turns drive it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createModel } from "../../src/models/index.js";
import { finish, startModelServer, systemPromptOf, taskOf, toolCall, toolNamesOf, type ModelServer } from "../../src/testing/index.js";
import { runAgent } from "../../src/workers/agent-loop.js";
import type { AgentTool } from "../../src/workers/tools.js";

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const routes = [
  ["Anthropic Messages", "anthropic/claude-kit"],
  ["OpenAI chat completions", "openai/gpt-kit"],
  ["OpenAI Responses", "openai-responses/gpt-kit"],
] as const;

const modelOf = (route: string) => route.slice(route.indexOf("/") + 1);

/** A tool that remembers what it was asked. */
function lookTool(seen: unknown[]): AgentTool {
  return {
    def: { name: "look", description: "Look at a path.", inputSchema: { type: "object", properties: { path: { type: "string" } } } },
    execute: async (args) => {
      seen.push(args);
      return { content: "the answer is 42", isError: false };
    },
  };
}

const answer = { schema: z.object({ answer: z.number() }), description: "Give the answer." };

describe.each(routes)("the kit over %s", (_api, route) => {
  it("drives the agent loop with a tool call turn and a finish turn, and reports the scripted usage", async () => {
    server = await startModelServer({
      [modelOf(route)]: [toolCall("look", { path: "notes.md" }, { text: "Let me look.", usage: { input: 1200, output: 80, cached: 200 } }), finish({ answer: 42 })],
    });
    const seen: unknown[] = [];
    const outcome = await runAgent({
      model: createModel(route, server.env),
      system: "You are the team's planner. Always plan a test first.",
      task: "Find the answer in notes.md.",
      tools: [lookTool(seen)],
      finish: answer,
      maxTurns: 5,
    });

    expect(outcome.ok && outcome.output).toEqual({ answer: 42 });
    expect(seen).toEqual([{ path: "notes.md" }]);
    expect(outcome.usage[0]).toMatchObject({ inputTokens: 1200, outputTokens: 80, cachedTokens: 200 });
    expect(server.remaining()).toEqual({ [modelOf(route)]: 0 });
  });

  it("reads the system prompt, the task and the offered tools of every recorded request", async () => {
    server = await startModelServer({ [modelOf(route)]: [toolCall("look", { path: "a" }), finish({ answer: 1 })] });
    await runAgent({
      model: createModel(route, server.env),
      system: "You are the team's planner.\nAlways plan a test first.",
      task: "Plan issue #7: add divide().",
      tools: [lookTool([])],
      finish: answer,
      maxTurns: 5,
    });

    expect(server.requests).toHaveLength(2);
    for (const request of server.requests) {
      expect(systemPromptOf(request)).toBe("You are the team's planner.\nAlways plan a test first.");
      expect(taskOf(request)).toBe("Plan issue #7: add divide().");
      expect(toolNamesOf(request)).toEqual(["look", "finish"]);
    }
  });
});

describe("turn helpers", () => {
  it("answers a turn with delayMs only after that delay", async () => {
    server = await startModelServer({ "gpt-kit": [finish({ answer: 3 }, { delayMs: 300 })] });
    const started = performance.now();
    const outcome = await runAgent({ model: createModel("openai/gpt-kit", server.env), system: "s", task: "t", tools: [], finish: answer, maxTurns: 1 });
    expect(outcome.ok && outcome.output).toEqual({ answer: 3 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("gives each tool call of a turn its own id, or the one scripted", () => {
    expect(toolCall("look", { path: "a" }, { id: "call_fixed" })).toEqual({ toolCalls: [{ name: "look", args: { path: "a" }, id: "call_fixed" }] });
    expect(finish({ answer: 1 })).toEqual({ toolCalls: [{ name: "finish", args: { answer: 1 } }] });
  });

  it("closes once, however many hooks ask", async () => {
    server = await startModelServer({});
    await server.close();
    await expect(server.close()).resolves.toBeUndefined();
  });

  it("reads nothing from a request that is not a model call, and names a request that was never made", async () => {
    server = await startModelServer({});
    await fetch(`${server.url}/v1/models`);
    const [request] = server.requests;
    expect(systemPromptOf(request!)).toBe("");
    expect(taskOf(request!)).toBe("");
    expect(toolNamesOf(request!)).toEqual([]);
    expect(() => systemPromptOf(server!.requests[1])).toThrow("no such request was recorded");
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { classifyFailure } from "../../src/domain/index.js";
import { createModel } from "../../src/models/index.js";
import type { ChatRequest, ToolDef } from "../../src/models/index.js";
import { startModelServer, type ModelScript, type ModelServer } from "../kit/model-server.js";

const MODEL = "gpt-5-mini";
const tools: ToolDef[] = [
  { name: "search", description: "Search the repo", inputSchema: { type: "object", properties: { query: { type: "string" } } } },
];
const ask = (text: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  system: "You are the planner.",
  messages: [{ role: "user", text }],
  tools,
  maxTokens: 2048,
  ...extra,
});

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function model(script: ModelScript) {
  server = await startModelServer(script);
  return createModel(`openai-responses/${MODEL}`, { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${server.url}/v1` });
}

describe("openai responses model", () => {
  it("streams a text answer, statelessly, with the system prompt as instructions", async () => {
    const m = await model({ [MODEL]: [{ text: "Plan: two subtasks." }] });
    const res = await m.complete(ask("plan it"));

    expect(res).toMatchObject({ text: "Plan: two subtasks.", toolCalls: [], stop: "end" });
    const req = server!.requests[0]!;
    expect(req.path).toBe("/v1/responses");
    expect(req.headers.authorization).toBe("Bearer sk-test");
    expect(req.body).toMatchObject({
      model: MODEL,
      stream: true,
      store: false,
      instructions: "You are the planner.",
      max_output_tokens: 2048,
      input: [{ type: "message", role: "user", content: "plan it" }],
      tools: [{ type: "function", name: "search", description: "Search the repo", parameters: tools[0]!.inputSchema }],
    });
  });

  it("returns function calls with parsed arguments and sends their outputs back as items", async () => {
    const args = { query: "createModel", paths: ["src/"] };
    const m = await model({
      [MODEL]: [
        { text: "Searching.", toolCalls: [{ name: "search", args, id: "call_s1" }] },
        (req) => {
          expect(req.body.input).toEqual([
            { type: "message", role: "user", content: "find it" },
            { type: "message", role: "assistant", content: "Searching." },
            { type: "function_call", call_id: "call_s1", name: "search", arguments: JSON.stringify(args) },
            { type: "function_call_output", call_id: "call_s1", output: "src/models/route.ts:44" },
          ]);
          return { text: "Found it." };
        },
      ],
    });
    const first = await m.complete(ask("find it"));
    expect(first).toMatchObject({ text: "Searching.", stop: "tool_use" });
    expect(first.toolCalls).toEqual([{ id: "call_s1", name: "search", args, raw: JSON.stringify(args) }]);

    const second = await m.complete(
      ask("find it", {
        messages: [
          { role: "user", text: "find it" },
          { role: "assistant", text: first.text, toolCalls: first.toolCalls },
          { role: "tool", results: [{ callId: "call_s1", name: "search", content: "src/models/route.ts:44", isError: false }] },
        ],
      }),
    );
    expect(second.text).toBe("Found it.");
  });

  it("reports max_tokens for an incomplete response", async () => {
    const m = await model({ [MODEL]: [{ text: "half a pl", truncated: true }] });
    const res = await m.complete(ask("go"));
    expect(res).toMatchObject({ text: "half a pl", stop: "max_tokens" });
  });

  it("records usage with cached input tokens and prices it", async () => {
    const m = await model({ [MODEL]: [{ text: "ok", usage: { input: 10_000, output: 1_000, cached: 8_000 } }] });
    const { usage } = await m.complete(ask("go"));
    expect(usage).toMatchObject({ provider: "openai", model: MODEL, inputTokens: 10_000, outputTokens: 1_000, cachedTokens: 8_000 });
    // 2000 uncached × $0.25 + 8000 cached × $0.025 + 1000 out × $2, per million.
    expect(usage.costUsd).toBeCloseTo(0.0027, 10);
  });

  it("surfaces a 429 as a rate limit with retry-after, without retrying by itself", async () => {
    const m = await model({ [MODEL]: [{ error: { status: 429, headers: { "retry-after": "2" } } }, { text: "too late" }] });
    const error = await m.complete(ask("go")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(classifyFailure(error)).toMatchObject({ class: "transient", reason: "rate_limit", retryAfterMs: 2000 });
    expect(server!.requests).toHaveLength(1);
    expect(server!.remaining()).toEqual({ [MODEL]: 1 });
  });

  it("turns an exhausted script into a server error that names the model", async () => {
    const m = await model({ [MODEL]: [] });
    const error = await m.complete(ask("go")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String((error as Error).message)).toContain(`script exhausted for model ${MODEL}`);
    expect(classifyFailure(error)).toMatchObject({ class: "transient", reason: "server_error" });
  });
});

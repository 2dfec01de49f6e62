import { afterEach, describe, expect, it } from "vitest";
import { classifyFailure } from "../../src/domain/index.js";
import { createModel } from "../../src/models/index.js";
import type { ChatRequest, ToolDef } from "../../src/models/index.js";
import { startModelServer, type ModelScript, type ModelServer } from "../kit/model-server.js";

const MODEL = "claude-haiku-4-5-20251001";
const tools: ToolDef[] = [
  { name: "read_file", description: "Read a file", inputSchema: { type: "object", properties: { path: { type: "string" } } } },
  { name: "run", description: "Run a command", inputSchema: { type: "object", properties: { cmd: { type: "string" } } } },
];
const ask = (text: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  system: "You are the generator.",
  messages: [{ role: "user", text }],
  tools,
  maxTokens: 1024,
  ...extra,
});

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function model(script: ModelScript, env: NodeJS.ProcessEnv = {}) {
  server = await startModelServer(script);
  return createModel(`anthropic/${MODEL}`, { ANTHROPIC_API_KEY: "sk-ant-test", ANTHROPIC_BASE_URL: server.url, ...env });
}

describe("anthropic model", () => {
  it("streams a text answer", async () => {
    const m = await model({ [MODEL]: [{ text: "The tests pass on main." }] });
    const res = await m.complete(ask("status?"));

    expect(res).toMatchObject({ text: "The tests pass on main.", toolCalls: [], stop: "end" });
    expect(server!.requests).toHaveLength(1);
    const req = server!.requests[0]!;
    expect(req.path).toBe("/v1/messages");
    // @anthropic-ai/sdk 1.x sends the API key as a bearer token, not as x-api-key.
    expect(req.headers.authorization).toBe("Bearer sk-ant-test");
    expect(req.body).toMatchObject({ model: MODEL, stream: true, max_tokens: 1024, messages: [{ role: "user", content: [{ type: "text", text: "status?" }] }] });
  });

  it("marks the system prompt and the last tool as cacheable, and only those", async () => {
    const m = await model({ [MODEL]: [{ text: "ok" }] });
    await m.complete(ask("go"));
    const body = server!.requests[0]!.body;
    expect(body.system).toEqual([{ type: "text", text: "You are the generator.", cache_control: { type: "ephemeral" } }]);
    expect(body.tools.map((t: { cache_control?: unknown }) => t.cache_control)).toEqual([undefined, { type: "ephemeral" }]);
    expect(body.tools[0].input_schema).toEqual(tools[0]!.inputSchema);
  });

  it("returns a tool call whose input was streamed in pieces, and sends tool results back as tool_result blocks", async () => {
    const args = { path: "src/models/route.ts", range: [1, 40] };
    const m = await model({
      [MODEL]: [
        { text: "Reading it.", toolCalls: [{ name: "read_file", args, id: "toolu_1" }] },
        (req) => {
          expect(req.body.messages).toEqual([
            { role: "user", content: [{ type: "text", text: "read route.ts" }] },
            {
              role: "assistant",
              content: [
                { type: "text", text: "Reading it." },
                { type: "tool_use", id: "toolu_1", name: "read_file", input: args },
              ],
            },
            {
              role: "user",
              content: [
                { type: "tool_result", tool_use_id: "toolu_1", content: "export {}", is_error: false },
                { type: "text", text: "and be quick" },
              ],
            },
          ]);
          return { text: "Done." };
        },
      ],
    });
    const first = await m.complete(ask("read route.ts"));
    expect(first.stop).toBe("tool_use");
    expect(first.text).toBe("Reading it.");
    expect(first.toolCalls).toEqual([{ id: "toolu_1", name: "read_file", args, raw: JSON.stringify(args) }]);

    const second = await m.complete(
      ask("read route.ts", {
        messages: [
          { role: "user", text: "read route.ts" },
          { role: "assistant", text: first.text, toolCalls: first.toolCalls },
          { role: "tool", results: [{ callId: "toolu_1", name: "read_file", content: "export {}", isError: false }] },
          { role: "user", text: "and be quick" },
        ],
      }),
    );
    expect(second.text).toBe("Done.");
    expect(server!.remaining()).toEqual({ [MODEL]: 0 });
  });

  it("counts cache reads as input and prices the turn", async () => {
    const m = await model({ [MODEL]: [{ text: "ok", usage: { input: 1000, output: 200, cached: 600 } }] });
    const { usage } = await m.complete(ask("go"));
    expect(usage).toMatchObject({ provider: "anthropic", model: MODEL, inputTokens: 1000, outputTokens: 200, cachedTokens: 600 });
    // 400 uncached × $1 + 600 cached × $0.10 + 200 out × $5, per million.
    expect(usage.costUsd).toBeCloseTo(0.00146, 10);
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

  it("ends a hung request at SHOPFLOOR_MODEL_TIMEOUT_MS as a transient timeout", async () => {
    const m = await model({ [MODEL]: [{ hang: true }] }, { SHOPFLOOR_MODEL_TIMEOUT_MS: "300" });
    const error = await m.complete(ask("go")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(classifyFailure(error)).toMatchObject({ class: "transient", reason: "timeout" });
  });

  it("uses only the env it is given, not ANTHROPIC_* from the process", async () => {
    const saved = { token: process.env.ANTHROPIC_AUTH_TOKEN, base: process.env.ANTHROPIC_BASE_URL };
    process.env.ANTHROPIC_AUTH_TOKEN = "process-token";
    process.env.ANTHROPIC_BASE_URL = "http://127.0.0.1:1";
    try {
      const m = await model({ [MODEL]: [{ text: "ok" }] });
      expect((await m.complete(ask("go"))).text).toBe("ok");
      expect(server!.requests[0]!.headers.authorization).toBe("Bearer sk-ant-test");
    } finally {
      for (const [k, v] of [["ANTHROPIC_AUTH_TOKEN", saved.token], ["ANTHROPIC_BASE_URL", saved.base]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("refuses a route without ANTHROPIC_API_KEY, naming the variable", () => {
    expect(() => createModel(`anthropic/${MODEL}`, {})).toThrow(/ANTHROPIC_API_KEY/);
  });
});

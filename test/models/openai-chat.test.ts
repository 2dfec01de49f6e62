import { afterEach, describe, expect, it } from "vitest";
import { classifyFailure } from "../../src/domain/index.js";
import { createModel } from "../../src/models/index.js";
import type { ChatRequest, ToolDef } from "../../src/models/index.js";
import { startModelServer, type ModelScript, type ModelServer } from "../kit/model-server.js";

const MODEL = "gpt-4.1";
const tools: ToolDef[] = [
  { name: "read_file", description: "Read a file", inputSchema: { type: "object", properties: { path: { type: "string" } } } },
];
const ask = (text: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  system: "You are the reviewer.",
  messages: [{ role: "user", text }],
  tools,
  maxTokens: 512,
  ...extra,
});

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function model(script: ModelScript) {
  server = await startModelServer(script);
  return createModel(`openai/${MODEL}`, { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${server.url}/v1` });
}

describe("openai chat completions model", () => {
  it("streams a text answer and asks for usage in the stream", async () => {
    const m = await model({ [MODEL]: [{ text: "Looks good to me." }] });
    const res = await m.complete(ask("review this"));

    expect(res).toMatchObject({ text: "Looks good to me.", toolCalls: [], stop: "end" });
    const req = server!.requests[0]!;
    expect(req.path).toBe("/v1/chat/completions");
    expect(req.headers.authorization).toBe("Bearer sk-test");
    expect(req.body).toMatchObject({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 512,
      messages: [
        { role: "system", content: "You are the reviewer." },
        { role: "user", content: "review this" },
      ],
      tools: [{ type: "function", function: { name: "read_file", description: "Read a file", parameters: tools[0]!.inputSchema } }],
    });
  });

  it("assembles tool calls from argument deltas and replays them with their results", async () => {
    const m = await model({
      [MODEL]: [
        {
          toolCalls: [
            { name: "read_file", args: { path: "a.ts" }, id: "call_a" },
            { name: "read_file", args: { path: "dir/b.ts", note: "second" }, id: "call_b" },
          ],
        },
        (req) => {
          expect(req.body.messages.slice(1)).toEqual([
            { role: "user", content: "read both" },
            {
              role: "assistant",
              content: null,
              tool_calls: [
                { id: "call_a", type: "function", function: { name: "read_file", arguments: '{"path":"a.ts"}' } },
                { id: "call_b", type: "function", function: { name: "read_file", arguments: '{"path":"dir/b.ts","note":"second"}' } },
              ],
            },
            { role: "tool", tool_call_id: "call_a", content: "A" },
            { role: "tool", tool_call_id: "call_b", content: "Error: no such file" },
          ]);
          return { text: "done" };
        },
      ],
    });
    const first = await m.complete(ask("read both"));
    expect(first.stop).toBe("tool_use");
    expect(first.toolCalls).toEqual([
      { id: "call_a", name: "read_file", args: { path: "a.ts" }, raw: '{"path":"a.ts"}' },
      { id: "call_b", name: "read_file", args: { path: "dir/b.ts", note: "second" }, raw: '{"path":"dir/b.ts","note":"second"}' },
    ]);

    const second = await m.complete(
      ask("read both", {
        messages: [
          { role: "user", text: "read both" },
          { role: "assistant", text: "", toolCalls: first.toolCalls },
          {
            role: "tool",
            results: [
              { callId: "call_a", name: "read_file", content: "A", isError: false },
              { callId: "call_b", name: "read_file", content: "no such file", isError: true },
            ],
          },
        ],
      }),
    );
    expect(second.text).toBe("done");
  });

  it("keeps arguments that are not JSON as raw text, with args undefined", async () => {
    const m = await model({ [MODEL]: [{ toolCalls: [{ name: "read_file", args: '{"path": "a.ts"' }] }] });
    const res = await m.complete(ask("go"));
    expect(res.toolCalls).toHaveLength(1);
    expect(res.toolCalls[0]).toMatchObject({ name: "read_file", raw: '{"path": "a.ts"', args: undefined });
  });

  it("reports max_tokens when the answer was cut off", async () => {
    const m = await model({ [MODEL]: [{ text: "partial", truncated: true }] });
    expect((await m.complete(ask("go"))).stop).toBe("max_tokens");
  });

  it("records usage from the final chunk, cached tokens included, and prices it", async () => {
    const m = await model({ [MODEL]: [{ text: "ok", usage: { input: 2000, output: 100, cached: 1000 } }] });
    const { usage } = await m.complete(ask("go"));
    expect(usage).toMatchObject({ provider: "openai", model: MODEL, inputTokens: 2000, outputTokens: 100, cachedTokens: 1000 });
    // 1000 uncached × $2 + 1000 cached × $0.50 + 100 out × $8, per million.
    expect(usage.costUsd).toBeCloseTo(0.0033, 10);
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

  it("stops when the caller aborts", async () => {
    const m = await model({ [MODEL]: [{ hang: true }] });
    const controller = new AbortController();
    const pending = m.complete(ask("go", { signal: controller.signal }));
    while (server!.requests.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(pending).rejects.toThrow(/abort/i);
  });
});

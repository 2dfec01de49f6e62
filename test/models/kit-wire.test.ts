/**
 * The scripted model server must speak each wire format well enough for the SDKs' own strict
 * helpers and for plain clients, streamed and not: every model test (and the CLI-agent tests)
 * builds on it.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { startModelServer, type ModelServer } from "../kit/model-server.js";

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const args = { path: "src/models/route.ts", flags: ["a", "b"], n: 3 };
const turn = { text: "Let me look.", toolCalls: [{ name: "read_file", args }], usage: { input: 300, output: 40, cached: 100 } };

const openai = (s: ModelServer) => new OpenAI({ apiKey: "k", baseURL: `${s.url}/v1`, maxRetries: 0 });
const anthropic = (s: ModelServer, defaultQuery?: Record<string, string>) =>
  new Anthropic({ apiKey: "k", baseURL: s.url, maxRetries: 0, defaultQuery });

/** Parses an SSE body into its JSON data payloads. */
async function sse(res: Response): Promise<{ event?: string; data: any }[]> {
  const out: { event?: string; data: any }[] = [];
  for (const block of (await res.text()).split("\n\n").filter(Boolean)) {
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)![1]!;
    out.push({ event, data: data === "[DONE]" ? data : JSON.parse(data) });
  }
  return out;
}
const post = (s: ModelServer, path: string, body: unknown) =>
  fetch(`${s.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("kit model server: OpenAI chat completions", () => {
  it("streams tool call arguments in several deltas, then a usage chunk and [DONE]", async () => {
    server = await startModelServer({ m: [turn] });
    const events = await sse(await post(server, "/v1/chat/completions", { model: "m", stream: true }));
    const argDeltas = events.flatMap((e) => e.data.choices?.[0]?.delta?.tool_calls ?? []).map((d: any) => d.function.arguments);
    expect(argDeltas.filter((a: string) => a).length).toBeGreaterThan(1);
    expect(argDeltas.join("")).toBe(JSON.stringify(args));
    expect(events.at(-2)!.data.usage).toMatchObject({ prompt_tokens: 300, completion_tokens: 40 });
    expect(events.at(-1)!.data).toBe("[DONE]");
  });

  it("satisfies the SDK's stream helper and its plain answer", async () => {
    server = await startModelServer({ m: [turn, turn] });
    const client = openai(server);
    const streamed = await client.chat.completions.stream({ model: "m", messages: [{ role: "user", content: "x" }] }).finalChatCompletion();
    const plain = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    for (const c of [streamed, plain]) {
      expect(c.choices[0]!.message.content).toBe("Let me look.");
      expect(c.choices[0]!.finish_reason).toBe("tool_calls");
      const call = c.choices[0]!.message.tool_calls![0]!;
      expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual(args);
    }
    expect(plain.usage?.prompt_tokens_details?.cached_tokens).toBe(100);
  });
});

describe("kit model server: OpenAI Responses", () => {
  it("streams the real event names with arguments in several deltas", async () => {
    server = await startModelServer({ m: [turn] });
    const events = await sse(await post(server, "/v1/responses", { model: "m", stream: true }));
    const names = events.map((e) => e.event);
    expect(names[0]).toBe("response.created");
    expect(names.at(-1)).toBe("response.completed");
    expect(names).toContain("response.output_text.delta");
    expect(names.filter((n) => n === "response.function_call_arguments.delta").length).toBeGreaterThan(1);
    expect(events.every((e, i) => e.data.type === e.event && e.data.sequence_number === i)).toBe(true);
  });

  it("satisfies the SDK's stream helper and its plain answer", async () => {
    server = await startModelServer({ m: [turn, turn] });
    const client = openai(server);
    const streamed = await client.responses.stream({ model: "m", input: "x" }).finalResponse();
    const plain = await client.responses.create({ model: "m", input: "x" });
    for (const r of [streamed, plain]) {
      expect(r.output_text).toBe("Let me look.");
      const call = r.output.find((o) => o.type === "function_call");
      expect(call?.type === "function_call" && JSON.parse(call.arguments)).toEqual(args);
      expect(r.usage).toMatchObject({ input_tokens: 300, output_tokens: 40, input_tokens_details: { cached_tokens: 100 } });
    }
  });
});

describe("kit model server: Anthropic Messages", () => {
  it("streams input_json_delta in several pieces, also on /v1/messages?beta=true", async () => {
    server = await startModelServer({ m: [turn] });
    const events = await sse(await post(server, "/v1/messages?beta=true", { model: "m", stream: true, max_tokens: 10, messages: [] }));
    expect(events.map((e) => e.event)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      ...Array(3).fill("content_block_delta"),
      "content_block_stop",
      "content_block_start",
      ...events.filter((e) => e.data.delta?.type === "input_json_delta").map(() => "content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const pieces = events.filter((e) => e.data.delta?.type === "input_json_delta").map((e) => e.data.delta.partial_json);
    expect(pieces.length).toBeGreaterThan(1);
    expect(JSON.parse(pieces.join(""))).toEqual(args);
    expect(server.requests[0]!.path).toBe("/v1/messages?beta=true");
  });

  it("satisfies the SDK's stream helper and its plain answer", async () => {
    server = await startModelServer({ m: [turn, turn] });
    const client = anthropic(server, { beta: "true" });
    const body = { model: "m", max_tokens: 10, messages: [{ role: "user" as const, content: "x" }] };
    const streamed = await client.messages.stream(body).finalMessage();
    const plain = await client.messages.create(body);
    for (const m of [streamed, plain]) {
      expect(m.stop_reason).toBe("tool_use");
      expect(m.content[0]).toMatchObject({ type: "text", text: "Let me look." });
      expect(m.content[1]).toMatchObject({ type: "tool_use", name: "read_file", input: args });
      expect(m.usage).toMatchObject({ input_tokens: 200, cache_read_input_tokens: 100, output_tokens: 40 });
    }
    expect(server.requests.map((r) => r.path)).toEqual(["/v1/messages?beta=true", "/v1/messages?beta=true"]);
  });

  it("answers error turns in Anthropic's error shape", async () => {
    server = await startModelServer({ m: [{ error: { status: 529 } }] });
    const error = await anthropic(server)
      .messages.create({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
  });
});

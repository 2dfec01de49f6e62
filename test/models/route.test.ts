import { afterEach, describe, expect, it } from "vitest";
import { createModel, parseRoute } from "../../src/models/index.js";
import type { ChatRequest } from "../../src/models/index.js";
import { startModelServer, type ModelServer } from "../kit/model-server.js";

const ask: ChatRequest = { system: "sys", messages: [{ role: "user", text: "hi" }], tools: [], maxTokens: 64 };

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("parseRoute", () => {
  it("splits on the first '/' only, so model names may contain '/'", () => {
    expect(parseRoute("anthropic/claude-opus-4-8")).toEqual({ provider: "anthropic", model: "claude-opus-4-8" });
    expect(parseRoute("vllm/Qwen/Qwen3-Coder-30B")).toEqual({ provider: "vllm", model: "Qwen/Qwen3-Coder-30B" });
  });

  it.each(["gpt-5", "/gpt-5", "openai/", ""])("rejects %j", (route) => {
    expect(() => parseRoute(route)).toThrow(/<provider>\/<model>/);
  });
});

describe("createModel", () => {
  it("sends a named endpoint's route to SHOPFLOOR_ENDPOINT_<NAME> as OpenAI chat completions", async () => {
    server = await startModelServer({ qwen: [{ text: "local answer" }] });
    const m = createModel("local/qwen", { SHOPFLOOR_ENDPOINT_LOCAL: `${server.url}/v1` });
    expect(m).toMatchObject({ route: "local/qwen", provider: "local", model: "qwen" });

    const res = await m.complete(ask);
    expect(res.text).toBe("local answer");
    // Local models are not in the price table: tokens count, cost is unknown.
    expect(res.usage).toMatchObject({ provider: "local", inputTokens: 100, outputTokens: 20, costUsd: null });
    const req = server.requests[0]!;
    expect(req.path).toBe("/v1/chat/completions");
    expect(req.headers.authorization).toBe("Bearer not-needed");
    // Older OpenAI-compatible servers only know max_tokens.
    expect(req.body).toMatchObject({ model: "qwen", stream: true, max_tokens: 64 });
  });

  it("reads the endpoint key from SHOPFLOOR_ENDPOINT_<NAME>_KEY, with '-' in the name as '_'", async () => {
    server = await startModelServer({ "Qwen/Qwen3-8B": [{ text: "ok" }] });
    const m = createModel("my-vllm/Qwen/Qwen3-8B", {
      SHOPFLOOR_ENDPOINT_MY_VLLM: `${server.url}/v1`,
      SHOPFLOOR_ENDPOINT_MY_VLLM_KEY: "vllm-secret",
    });
    await m.complete(ask);
    expect(server.requests[0]!.headers.authorization).toBe("Bearer vllm-secret");
    expect(server.requests[0]!.body.model).toBe("Qwen/Qwen3-8B");
  });

  it("names the variable to set when an endpoint is not configured", () => {
    expect(() => createModel("ollama-box/llama3", {})).toThrow(/SHOPFLOOR_ENDPOINT_OLLAMA_BOX\b/);
  });

  it("names the missing key of a vendor route", () => {
    expect(() => createModel("openai/gpt-5", {})).toThrow(/OPENAI_API_KEY/);
    expect(() => createModel("openai-responses/gpt-5", {})).toThrow(/OPENAI_API_KEY/);
  });

  it("picks the provider implementation from the route prefix", () => {
    const env = { OPENAI_API_KEY: "k", ANTHROPIC_API_KEY: "k" };
    expect(createModel("openai/gpt-5", env)).toMatchObject({ provider: "openai", model: "gpt-5" });
    expect(createModel("openai-responses/gpt-5", env)).toMatchObject({ provider: "openai", route: "openai-responses/gpt-5" });
    expect(createModel("anthropic/claude-opus-4-8", env)).toMatchObject({ provider: "anthropic", model: "claude-opus-4-8" });
  });

  it("rejects a SHOPFLOOR_MODEL_TIMEOUT_MS that is not a positive number", () => {
    expect(() => createModel("openai/gpt-5", { OPENAI_API_KEY: "k", SHOPFLOOR_MODEL_TIMEOUT_MS: "soon" })).toThrow(
      /SHOPFLOOR_MODEL_TIMEOUT_MS/,
    );
  });
});

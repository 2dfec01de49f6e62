import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { priceUsage } from "../../../src/models/prices.js";
import { codexArgs, codexFailure, runCodex } from "../../../src/workers/cli/codex.js";
import type { CliAgentOptions } from "../../../src/workers/cli/types.js";
import { startModelServer, type ModelScript, type ModelServer, type RecordedRequest } from "../../kit/model-server.js";
import { gitRepo, jobDirPath, processesMentioning, removeAll, report } from "./fixture.js";

/** The real Codex CLI against the kit's OpenAI Responses endpoint on loopback. */

const MODEL = "gpt-5.4-mini";
const KEY = "sk-kit-codex-secret-0123456789";
const cleanup: string[] = [];
let server: ModelServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  removeAll(cleanup);
});

async function setup(script: ModelScript[string], over: Partial<CliAgentOptions> = {}): Promise<CliAgentOptions> {
  server = await startModelServer({ [MODEL]: script });
  const worktree = gitRepo({ "README.md": "# demo\n", "AGENTS.md": "REPO_AGENTS_MD_MARKER\n" });
  const jobDir = jobDirPath();
  cleanup.push(worktree, path.dirname(jobDir));
  return {
    role: "generator",
    worktree,
    jobDir,
    system: "SHOPFLOOR_SYSTEM_MARKER: you are the generator.",
    task: "--- Create hello.txt, then report.",
    model: MODEL,
    endpoint: { baseUrl: `${server.url}/v1`, apiKey: KEY },
    maxTurns: 5,
    timeoutMs: 30_000,
    ...over,
  };
}

const exec = (cmd: string) => ({ name: "exec_command", args: { cmd } });
const addFile = (name: string, line: string) => exec(`apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: ${name}\n+${line}\n*** End Patch\nEOF\n`);

describe("runCodex", () => {
  it("writes a file through Codex's apply_patch and returns the schema-shaped report with usage and cost", async () => {
    let firstRequest: RecordedRequest | undefined;
    const opts = await setup([
      (req) => {
        firstRequest = req;
        return { toolCalls: [addFile("hello.txt", "hello")], usage: { input: 1000, output: 50, cached: 400 } };
      },
      { text: JSON.stringify(report) },
    ]);
    const progress: { turn: number; toolCalls: number }[] = [];

    const outcome = await runCodex({ ...opts, onProgress: (p) => progress.push(p) });

    expect(outcome).toMatchObject({ ok: true, output: report, turns: 2 });
    expect(readFileSync(path.join(opts.worktree, "hello.txt"), "utf8")).toBe("hello\n");
    const tokens = { inputTokens: 1100, outputTokens: 70, cachedTokens: 400 };
    expect(outcome.usage).toEqual([{ provider: "openai", model: MODEL, ...tokens, costUsd: priceUsage("openai", MODEL, tokens) }]);
    expect(outcome.usage[0]?.costUsd).toBeCloseTo((700 * 0.75 + 400 * 0.075 + 70 * 4.5) / 1e6, 10);
    expect(outcome.trace).toEqual([{ turn: 1, tool: "apply_patch", ok: true, note: "add hello.txt" }]);
    expect(progress.at(-1)).toEqual({ turn: 2, toolCalls: 1 });

    // What the CLI sent: our schema and system text, the key as a bearer token and nowhere in argv.
    const req = firstRequest!;
    const tools = (req.body.tools as { name?: string; type?: string }[]).map((t) => t.name ?? t.type);
    expect(tools).toContain("exec_command");
    expect(tools).not.toContain("web_search");
    expect(req.body.text.format).toMatchObject({ type: "json_schema", schema: { required: expect.arrayContaining(["status", "handoff"]) } });
    expect(JSON.stringify(req.body.input)).toContain("SHOPFLOOR_SYSTEM_MARKER");
    expect(JSON.stringify(req.body.input)).toContain("--- Create hello.txt, then report.");
    expect(JSON.stringify(req.body)).not.toContain("REPO_AGENTS_MD_MARKER");
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(codexArgs(opts, { url: "http://127.0.0.1:3129", sandboxed: true }).join(" ")).not.toContain(KEY);
    expect(existsSync(opts.jobDir)).toBe(false);
  });

  it("runs a reviewer on a read-only worktree, and commands never see the key", async () => {
    const opts = await setup([
      { toolCalls: [exec("echo x > review.txt; env")] },
      { text: JSON.stringify({ ...report, summary: "Reviewed." }) },
    ], { role: "reviewer" });

    const outcome = await runCodex(opts);

    expect(outcome.ok).toBe(true);
    expect(existsSync(path.join(opts.worktree, "review.txt"))).toBe(false);
    // Our sandbox makes the worktree read-only; Codex's own stands in only where bubblewrap cannot run.
    expect(codexArgs(opts, { url: "http://127.0.0.1:3129", sandboxed: true })).toEqual(expect.arrayContaining(["--sandbox", "danger-full-access"]));
    expect(codexArgs(opts, { url: "http://127.0.0.1:40000", sandboxed: false })).toEqual(expect.arrayContaining(["--sandbox", "read-only"]));
    const output = JSON.stringify(server!.requests[1]?.body.input);
    expect(output).toMatch(/Read-only file system/);
    expect(output).not.toContain(KEY);
  });

  it("fails permanently when the final answer is not a valid report, though codex exits 0", async () => {
    const opts = await setup([{ text: JSON.stringify({ ...report, confidence: 7 }) }]);

    const outcome = await runCodex(opts);

    expect(outcome).toMatchObject({ ok: false, failure: { class: "permanent", reason: "invalid_output" } });
    expect(!outcome.ok && outcome.failure.detail).toMatch(/confidence/);
    expect(outcome.usage).toHaveLength(1);
  });

  it("reports a failed model call as a typed failure, without retrying by itself", async () => {
    const opts = await setup([{ error: { status: 500 } }, { error: { status: 500 } }]);

    const outcome = await runCodex(opts);

    expect(outcome).toMatchObject({ ok: false, failure: { class: "transient", reason: "server_error" } });
    expect(server!.remaining()[MODEL]).toBe(1);
  });

  it("stops the process at the turn cap", async () => {
    const opts = await setup([
      { toolCalls: [exec("true")] },
      { toolCalls: [exec("true")] },
      { toolCalls: [exec("true")] },
      { text: JSON.stringify(report) },
    ], { maxTurns: 2 });

    const outcome = await runCodex(opts);

    expect(outcome).toMatchObject({ ok: false, failure: { class: "permanent", reason: "invalid_output", detail: "turn cap 2 reached without a report" } });
    expect(server!.remaining()[MODEL]).toBeGreaterThanOrEqual(1);
  });

  it("kills a hung run at the timeout: transient timeout, no process left", async () => {
    const opts = await setup([{ hang: true }], { timeoutMs: 1_500 });
    const started = Date.now();

    const outcome = await runCodex(opts);

    expect(outcome).toMatchObject({ ok: false, failure: { class: "transient", reason: "timeout" } });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(processesMentioning(opts.jobDir)).toEqual([]);
  });

  it("refuses a job dir under /tmp, where Codex's sandbox silently breaks", async () => {
    const opts = await setup([]);
    const jobDir = path.join(mkdtempSync(path.join(tmpdir(), "shopfloor-cli-job-")), "job");
    cleanup.push(path.dirname(jobDir));

    const outcome = await runCodex({ ...opts, jobDir });

    expect(outcome).toMatchObject({ ok: false, failure: { class: "permanent", reason: "bug" } });
    expect(server!.requests).toHaveLength(0);
  });
});

describe("codexFailure", () => {
  it.each([
    ["exceeded retry limit, last status: 429 Too Many Requests, request id: req_kit", "transient", "rate_limit"],
    ["We’re currently experiencing high demand, which may cause temporary errors.", "transient", "server_error"],
    ["stream disconnected before completion: error sending request", "transient", "network"],
    ["Incomplete response returned, reason: max_output_tokens", "permanent", "invalid_output"],
    ['{"error":{"message":"bad","type":"invalid_request_error"}}', "permanent", "invalid_output"],
  ] as const)("%s → %s %s", (message, cls, reason) => {
    expect(codexFailure(message)).toMatchObject({ class: cls, reason });
  });
});

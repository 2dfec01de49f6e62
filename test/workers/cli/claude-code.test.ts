import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { priceUsage } from "../../../src/models/prices.js";
import { claudeArgs, runClaudeCode } from "../../../src/workers/cli/claude-code.js";
import type { CliAgentOptions } from "../../../src/workers/cli/types.js";
import { startModelServer, type ModelScript, type ModelServer, type RecordedRequest } from "../../kit/model-server.js";
import { gitRepo, jobDirPath, processesMentioning, removeAll, report } from "./fixture.js";

/** The real Claude Code CLI against the kit's Anthropic Messages endpoint on loopback. */

const MODEL = "claude-sonnet-4-5";
const KEY = "sk-ant-kit-secret-0123456789";
const cleanup: string[] = [];
let server: ModelServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  removeAll(cleanup);
});

async function setup(script: ModelScript[string], over: Partial<CliAgentOptions> = {}): Promise<CliAgentOptions> {
  server = await startModelServer({ [MODEL]: script });
  const worktree = gitRepo({ "README.md": "# demo\n", "CLAUDE.md": "REPO_CLAUDE_MD_MARKER\n" });
  const jobDir = jobDirPath();
  cleanup.push(worktree, path.dirname(jobDir));
  return {
    role: "generator",
    worktree,
    jobDir,
    system: "SHOPFLOOR_SYSTEM_MARKER: you are the generator.",
    task: "--- Create hello.txt, then report.",
    model: MODEL,
    endpoint: { baseUrl: server.url, apiKey: KEY },
    maxTurns: 5,
    timeoutMs: 30_000,
    ...over,
  };
}

const toolNames = (req: RecordedRequest): string[] => (req.body.tools as { name: string }[]).map((t) => t.name).sort();

describe("runClaudeCode", () => {
  it("writes a file with Claude Code's own Write tool and returns the structured report with usage and cost", async () => {
    let firstRequest: RecordedRequest | undefined;
    const opts = await setup([
      (req) => {
        firstRequest = req;
        return {
          toolCalls: [{ name: "Write", args: { file_path: path.join(opts.worktree, "hello.txt"), content: "hello\n" } }],
          usage: { input: 1000, output: 50, cached: 400 },
        };
      },
      { toolCalls: [{ name: "StructuredOutput", args: report }] },
    ], { allowedCommands: ["npm test"] });
    const progress: { turn: number; toolCalls: number }[] = [];

    const outcome = await runClaudeCode({ ...opts, onProgress: (p) => progress.push(p) });

    expect(outcome).toMatchObject({ ok: true, output: report, turns: 2 });
    expect(readFileSync(path.join(opts.worktree, "hello.txt"), "utf8")).toBe("hello\n");
    const tokens = { inputTokens: 1100, outputTokens: 70, cachedTokens: 400 };
    expect(outcome.usage).toEqual([{ provider: "anthropic", model: MODEL, ...tokens, costUsd: priceUsage("anthropic", MODEL, tokens) }]);
    expect(outcome.usage[0]?.costUsd).toBeCloseTo((700 * 3 + 400 * 0.3 + 70 * 15) / 1e6, 10);
    expect(outcome.trace).toContainEqual({ turn: 1, tool: "Write", ok: true, note: path.join(opts.worktree, "hello.txt") });
    expect(progress.at(-1)).toEqual({ turn: 2, toolCalls: 2 });

    // What the CLI sent: the role's tools, our system text, the key as x-api-key and nowhere in argv.
    const req = firstRequest!;
    expect(toolNames(req)).toEqual(expect.arrayContaining(["Bash", "Edit", "Read", "StructuredOutput", "Write"]));
    expect(toolNames(req)).not.toContain("WebFetch");
    expect(JSON.stringify(req.body.system)).toContain("SHOPFLOOR_SYSTEM_MARKER");
    expect(JSON.stringify(req.body.messages)).toContain("--- Create hello.txt, then report.");
    expect(JSON.stringify(req.body)).not.toContain("REPO_CLAUDE_MD_MARKER");
    expect(req.headers["x-api-key"]).toBe(KEY);
    expect(claudeArgs(opts).join(" ")).not.toContain(KEY);
    expect(existsSync(opts.jobDir)).toBe(false);
  });

  it("offers a reviewer only read tools, and refuses reads outside the worktree", async () => {
    const seen: string[][] = [];
    const opts = await setup([
      (req) => {
        seen.push(toolNames(req));
        return { toolCalls: [{ name: "Read", args: { file_path: "/etc/hostname" } }] };
      },
      { toolCalls: [{ name: "StructuredOutput", args: { ...report, summary: "Reviewed." } }] },
    ], { role: "reviewer", allowedCommands: ["npm test"] });

    const outcome = await runClaudeCode(opts);

    expect(outcome.ok).toBe(true);
    expect(seen[0]?.filter((t) => t !== "DeferredToolPlaceholder")).toEqual(["Glob", "Grep", "Read", "StructuredOutput"]);
    expect(outcome.trace[0]).toMatchObject({ tool: "Read", ok: false });
  });

  it("fails permanently when the model ends without the structured report", async () => {
    const opts = await setup([{ text: "All done." }, { text: "Really, all done." }]);

    const outcome = await runClaudeCode(opts);

    expect(outcome).toMatchObject({ ok: false, failure: { class: "permanent", reason: "invalid_output" } });
    expect(!outcome.ok && outcome.failure.detail).toMatch(/without the structured report/);
    expect(outcome.usage[0]).toMatchObject({ inputTokens: 200, outputTokens: 40 });
  });

  it("fails permanently at the turn cap", async () => {
    const opts = await setup([{ toolCalls: [{ name: "Glob", args: { pattern: "*.md" } }] }, { text: "unused" }], { maxTurns: 1 });

    const outcome = await runClaudeCode(opts);

    expect(outcome).toMatchObject({ ok: false, failure: { class: "permanent", reason: "invalid_output", detail: "turn cap 1 reached without a report" } });
  });

  it("reports a rate limit as transient, without retrying by itself", async () => {
    const opts = await setup([{ error: { status: 429 } }, { error: { status: 429 } }]);

    const outcome = await runClaudeCode(opts);

    expect(outcome).toMatchObject({ ok: false, failure: { class: "transient", reason: "rate_limit" } });
    expect(server!.remaining()[MODEL]).toBe(1);
  });

  it("kills a hung run at the timeout: transient timeout, no process left", async () => {
    const opts = await setup([{ hang: true }], { timeoutMs: 1_500 });
    const started = Date.now();

    const outcome = await runClaudeCode(opts);

    expect(outcome).toMatchObject({ ok: false, failure: { class: "transient", reason: "timeout" } });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(processesMentioning(opts.jobDir)).toEqual([]);
  });
});

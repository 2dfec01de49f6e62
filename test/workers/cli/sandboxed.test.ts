import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { WorkerReport } from "../../../src/domain/index.js";
import type { AgentOutcome } from "../../../src/workers/agent-loop.js";
import { runClaudeCode } from "../../../src/workers/cli/claude-code.js";
import { runCodex } from "../../../src/workers/cli/codex.js";
import { PLACEHOLDER_KEY } from "../../../src/workers/cli/sandboxed.js";
import type { CliAgentOptions } from "../../../src/workers/cli/types.js";
import { startModelServer, type ModelScript, type ModelServer, type RecordedRequest, type Turn } from "../../kit/model-server.js";
import {
  canaryFile,
  environsMentioning,
  gitRepo,
  installedDependency,
  jobDirPath,
  processesLeft,
  processesMentioning,
  removeAll,
  report,
  startBystander,
} from "./fixture.js";

/**
 * Both real CLIs in the real sandbox, against the kit's model server: what a command the agent
 * runs can see and reach. The agent runs `sh probe.sh` (a script in the worktree); what it
 * printed comes back to the model server in the next request.
 */

const KEY = "sk-kit-real-key-never-in-the-sandbox-0123456789";

interface Cli {
  name: string;
  run(opts: CliAgentOptions): Promise<AgentOutcome<WorkerReport>>;
  model: string;
  baseUrl(server: ModelServer): string;
  shell(command: string): Turn;
  finish: Turn;
  /** The credential header as the model server received it, and what it must be. */
  credential(req: RecordedRequest): unknown;
  expected: string;
  /** The path the CLI posts to, after the proxy put the upstream's base in front. */
  path: string;
}

const clis: Cli[] = [
  {
    name: "Claude Code",
    run: runClaudeCode,
    model: "claude-sonnet-4-5",
    baseUrl: (server) => server.url,
    shell: (command) => ({ toolCalls: [{ name: "Bash", args: { command } }] }),
    finish: { toolCalls: [{ name: "StructuredOutput", args: report }] },
    credential: (req) => req.headers["x-api-key"],
    expected: KEY,
    path: "/v1/messages?beta=true",
  },
  {
    name: "Codex",
    run: runCodex,
    model: "gpt-5.4-mini",
    // As OPENAI_BASE_URL is given: with /v1. Codex posts /responses to the sandbox's port.
    baseUrl: (server) => `${server.url}/v1`,
    shell: (cmd) => ({ toolCalls: [{ name: "exec_command", args: { cmd } }] }),
    finish: { text: JSON.stringify(report) },
    credential: (req) => req.headers.authorization,
    expected: `Bearer ${KEY}`,
    path: "/v1/responses",
  },
];

const cleanup: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  removeAll(cleanup);
});

describe.each(clis)("$name in the sandbox", (cli) => {
  let server: ModelServer;

  async function setup(probe: string, script: ModelScript[string], over: Partial<CliAgentOptions> = {}): Promise<CliAgentOptions> {
    server = await startModelServer({ [cli.model]: script });
    closers.push(() => server.close());
    const worktree = gitRepo({ "README.md": "# demo\n" });
    writeFileSync(path.join(worktree, "probe.sh"), probe);
    const jobDir = jobDirPath();
    cleanup.push(worktree, path.dirname(jobDir));
    return {
      role: "generator",
      worktree,
      jobDir,
      system: "You are the generator.",
      task: "Run the probe, then report.",
      model: cli.model,
      endpoint: { baseUrl: cli.baseUrl(server), apiKey: KEY },
      maxTurns: 5,
      timeoutMs: 30_000,
      allowedCommands: ["sh probe.sh"],
      ...over,
    };
  }

  /** What the probe printed, as the CLI sent it back to the model server. */
  const sent = (): string => server.requests.flatMap((r) => toolOutputs(r.body)).join("\n");

  it("keeps the API key on the host: the model server gets it, the CLI and its commands hold only a placeholder", async () => {
    let environs: string[] = [];
    const opts = await setup(
      // Its own environment, then that of every process in the sandbox, the CLI's included.
      "env\nfor f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < \"$f\"; echo; done\n",
      [
        () => {
          environs = environsMentioning(opts.jobDir);
          return cli.shell("sh probe.sh");
        },
        cli.finish,
      ],
    );

    const outcome = await cli.run(opts);

    expect(outcome).toMatchObject({ ok: true, output: report });
    expect(server.requests.map((r) => r.path)).toEqual([cli.path, cli.path]);
    for (const req of server.requests) expect(cli.credential(req)).toBe(cli.expected);
    expect(sent()).toContain(`=${PLACEHOLDER_KEY}`);
    expect(sent()).not.toContain(KEY);
    // On the host: bubblewrap and the CLI it started, both with the placeholder and never the key.
    expect(environs.length).toBeGreaterThanOrEqual(2);
    expect(environs.filter((e) => e.includes(PLACEHOLDER_KEY)).length).toBeGreaterThanOrEqual(2);
    for (const environ of environs) expect(environ).not.toContain(KEY);
  });

  it("reaches no host but its model endpoint: neither another loopback port nor the model server directly", async () => {
    const bystander = await startBystander();
    closers.push(() => bystander.close());
    const opts = await setup("", [cli.shell("sh probe.sh"), cli.finish]);
    const targets = [`127.0.0.1:${bystander.port}`, new URL(server.url).host, "1.1.1.1:80"];
    const probe = targets.map(
      (t) => `node -e "fetch('http://${t}/v1/models').then(r => console.log('REACHED ${t}', r.status), e => console.log('UNREACHABLE ${t}', e.cause?.code ?? e.message))"`,
    );
    writeFileSync(path.join(opts.worktree, "probe.sh"), `${probe.join("\n")}\n`);

    const outcome = await cli.run(opts);

    expect(outcome.ok).toBe(true);
    for (const t of targets) expect(sent()).toContain(`UNREACHABLE ${t}`);
    expect(sent()).not.toContain("REACHED");
    expect(bystander.hits()).toBe(0);
    // The model server saw the CLI's two calls through the proxy, and none from the probe.
    expect(server.requests.map((r) => r.path)).toEqual([cli.path, cli.path]);
  });

  it("sees the worktree and the job's installed dependencies, read-only, and no other file of the host", async () => {
    const canary = canaryFile();
    const deps = installedDependency();
    cleanup.push(canary.dir, deps);
    const appManifest = path.join(process.cwd(), "package.json");
    const opts = await setup(
      [
        `node -e "console.log(require('kit-dep'))"`,
        "kit-tool",
        'echo "setup variable: $KIT_SETUP_VAR"',
        "touch node_modules/kit-dep/mine 2>&1",
        `cat ${canary.file} 2>&1`,
        `cat ${appManifest} 2>&1`,
        "",
      ].join("\n"),
      [cli.shell("sh probe.sh"), cli.finish],
    );
    const outcome = await cli.run({
      ...opts,
      // As the setup phase hands them over: the dependency cache mounted into the worktree, its PATH.
      mounts: [{ source: deps, target: "node_modules", mode: "ro" }],
      env: { PATH: `${opts.worktree}/node_modules/.bin:/usr/bin:/bin`, KIT_SETUP_VAR: "from-setup" },
    });

    expect(outcome.ok).toBe(true);
    expect(sent()).toContain("KIT_DEP_INSTALLED");
    expect(sent()).toContain("KIT_TOOL_RAN");
    expect(sent()).toContain("setup variable: from-setup");
    expect(sent()).toMatch(/mine'?: Read-only file system/);
    expect(sent()).toContain(`${canary.file}: No such file or directory`);
    expect(sent()).not.toContain(canary.content);
    expect(sent()).toContain(`${appManifest}: No such file or directory`);
    expect(sent()).not.toContain("gated pull requests");
  });

  it("ends the whole process tree when the job's signal aborts, and reports the stop as a typed failure", async () => {
    const controller = new AbortController();
    let orphans: number[] = [];
    // A command that escapes the CLI's process group and session, and would otherwise run on.
    const opts = await setup("setsid sh -c 'sleep 300; true' \"$PWD/orphan\" </dev/null >/dev/null 2>&1 &\n# Let the orphan start before the next turn looks for it.\nsleep 1\necho started\n", [
      cli.shell("sh probe.sh"),
      () => {
        orphans = processesMentioning(`${opts.worktree}/orphan`);
        setTimeout(() => controller.abort(new Error("no progress for 10 minutes")), 300);
        return { hang: true };
      },
    ]);
    const started = Date.now();

    const outcome = await cli.run({ ...opts, signal: controller.signal });

    expect(outcome).toMatchObject({
      ok: false,
      failure: { class: "transient", reason: "timeout", detail: `${cli.name === "Codex" ? "codex" : "claude"} stopped: no progress for 10 minutes` },
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(orphans).toHaveLength(1);
    expect(await processesLeft(opts.jobDir, 3_000)).toEqual([]);
    expect(await processesLeft(`${opts.worktree}/orphan`, 3_000)).toEqual([]);
  });

  it("does not start when the job was stopped before it began", async () => {
    const opts = await setup("true\n", [cli.finish]);
    const stop = { class: "permanent", reason: "blocked", detail: "cancelled by /cancel" } as const;

    const outcome = await cli.run({ ...opts, signal: AbortSignal.abort(stop) });

    expect(outcome).toMatchObject({ ok: false, failure: stop });
    expect(server.requests).toHaveLength(0);
  });
});

/** Tool results in a request body, in either wire format (Anthropic `tool_result`, Responses `function_call_output`). */
function toolOutputs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(toolOutputs);
  if (typeof value !== "object" || value === null) return [];
  const item = value as Record<string, unknown>;
  if (item.type === "function_call_output") return [String(item.output)];
  if (item.type === "tool_result") return [typeof item.content === "string" ? item.content : JSON.stringify(item.content)];
  return Object.values(item).flatMap(toolOutputs);
}

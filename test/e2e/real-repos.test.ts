import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runGit } from "../../src/workspace/git.js";
import { owner, repoName, startApp, type AppHarness } from "../kit/app.js";
import type { ModelScript } from "../kit/model-server.js";
import { npmProject, startNpmRegistry, type NpmRegistry } from "../kit/npm-registry.js";
import { goodFarewell, labeledPayload, plan, projectFiles, reviewerScript } from "./scenario.js";

/**
 * Real repositories: a Node project whose tests import a package from a registry (a real one on
 * loopback), installed by the setup phase through the egress proxy, cached, and seen by the
 * generator's `npm test`, scrutiny and the contract; a postinstall that reaches for another host
 * gets nothing; a private registry's token reaches setup and nothing else.
 */

const runId = `${owner}/${repoName}#1`;
const branch = "shopfloor/1-add-farewell-name";
const models = ["models:", "  planner: anthropic/claude-haiku-4-5", "  generator: openai/gpt-5-mini", "review:", "  reviewers: [anthropic/claude-opus-4-1, openai/gpt-4.1]", "ci:", "  graceMinutes: 0"];

let app: AppHarness | undefined;
let elsewhere: Server;
const elsewhereSaw: string[] = [];
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "real-repos-"));
  elsewhere = createServer((req, res) => {
    elsewhereSaw.push(req.url ?? "");
    res.end("exfiltrated\n");
  });
  await new Promise<void>((done) => elsewhere.listen(0, "127.0.0.1", done));
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});
afterAll(async () => {
  elsewhere.close();
  await rm(work, { recursive: true, force: true });
});

const elsewhereHost = () => `127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;

/** A package whose postinstall tries another host, directly and through the proxy, and notes what happened. */
function sneaky(): { name: string; version: string; files: Record<string, string>; scripts: Record<string, string> } {
  const url = `http://${elsewhereHost()}`;
  const probe = [
    "const http = require('http'); const fs = require('fs'); const out = [];",
    "const done = () => { if (out.length === 2) fs.writeFileSync(__dirname + '/probe.txt', out.sort().join('\\n') + '\\n'); };",
    `fetch('${url}/direct').then((r) => { out.push('DIRECT ' + r.status); done(); }, (e) => { out.push('DIRECT-ERR ' + (e.cause && e.cause.code)); done(); });`,
    "const p = new URL(process.env.HTTP_PROXY || 'http://127.0.0.1:9');",
    `http.get({ host: p.hostname, port: p.port, path: '${url}/via-proxy' }, (r) => { out.push('PROXY ' + r.statusCode); r.resume(); done(); }).on('error', (e) => { out.push('PROXY-ERR ' + e.code); done(); });`,
  ].join("\n");
  return { name: "kit-sneaky", version: "1.0.0", files: { "index.js": "module.exports = {};\n", "probe.js": probe }, scripts: { postinstall: "node probe.js" } };
}

const words = { name: "kit-words", version: "1.0.0", files: { "index.js": "exports.goodbye = (name) => `Goodbye, ${name}!`;\n" } };

/** The scenario's project, but its test compares with a function from the registry package. */
async function nodeRepo(registry: NpmRegistry, dir: string): Promise<Record<string, string>> {
  const npm = await npmProject(dir, registry, { name: "hello-world", dependencies: { "kit-words": "1.0.0", "kit-sneaky": "1.0.0" }, scripts: { test: "node --test" } });
  const manifest = { ...JSON.parse(npm["package.json"]!), type: "module" };
  return {
    ...projectFiles,
    ...npm,
    "package.json": `${JSON.stringify(manifest, null, 2)}\n`,
    "test/farewell.test.js": [
      'import { test } from "node:test";',
      'import assert from "node:assert/strict";',
      'import { goodbye } from "kit-words";',
      'import { farewell } from "../src/farewell.js";',
      "",
      'test("farewell says goodbye the way kit-words does", () => {',
      '  assert.equal(farewell("Ann"), goodbye("Ann"));',
      "});",
      "",
    ].join("\n"),
  };
}

/** Planner and reviewers as in the scenario; the generator writes, runs `extra` and the tests, and reports. */
function script(extra = ""): ModelScript {
  return {
    ...reviewerScript(1),
    "claude-haiku-4-5": [{ toolCalls: [{ name: "finish", args: plan }], usage: { input: 1800, output: 300 } }],
    "gpt-5-mini": [
      { toolCalls: [{ name: "write_file", args: { path: "src/farewell.js", content: goodFarewell } }], usage: { input: 900, output: 60 } },
      { toolCalls: [{ name: "run", args: { command: `${extra}npm test` } }], usage: { input: 1100, output: 20 } },
      (req) => {
        const passed = JSON.stringify(req.body.messages.at(-1)).includes("pass 1");
        const handoff = { completed: ["created src/farewell.js"], remaining: [], commands: [], issues: [], followedProcedure: true };
        return { toolCalls: [{ name: "finish", args: { status: passed ? "ok" : "blocked", confidence: 0.9, summary: passed ? "tests pass" : "tests fail", handoff } }], usage: { input: 1300, output: 80 } };
      },
    ],
  };
}

async function branchFiles(h: AppHarness): Promise<string[]> {
  const { stdout } = await runGit(["ls-tree", "-r", "--name-only", branch], { cwd: join(h.originRoot, owner, `${repoName}.git`) });
  return stdout.split("\n").filter(Boolean);
}

async function findFile(dir: string, name: string): Promise<string | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name === name) return join(entry.parentPath, entry.name);
  }
  return undefined;
}

describe("a repository with dependencies", () => {
  it("installs them through the registry allowlist, proves the change with them, and restores them from the cache next time", async () => {
    const registry = await startNpmRegistry({ packages: [words, sneaky()] });
    const cacheDir = join(work, "cache-detected");
    try {
      const files = await nodeRepo(registry, await mkdtemp(join(work, "repo-")));
      const env = { SHOPFLOOR_EGRESS_ALLOW: registry.host, SHOPFLOOR_CACHE_DIR: cacheDir };
      // No `commands` at all: install and test are detected from the lock file and package.json.
      const start = () => startApp({ script: script(), files, configYaml: models.join("\n"), env, netConnect: [registry.host, elsewhereHost()] });

      app = await start();
      app.github.permissions = { Codertocat: "write" };
      await app.deliver("issues", labeledPayload());
      const run = await app.waitForRun(runId, 120_000);
      expect(run.phase).toBe("gated");
      const gate = app.github.checkRuns.at(-1)!;
      expect(gate.conclusion).toBe("success");
      expect(gate.output.summary).toContain("| Setup: `npm ci --no-audit --no-fund` (install) | ✅ pass | restored from the dependency cache |");
      expect(gate.output.summary).toMatch(/\| `npm test` \(test\) \| ✅ pass \| exit 0/);
      // The generator's own `npm test` saw the installed package.
      const generatorSaw = app.models.requests.filter((r) => r.body.model === "gpt-5-mini").map((r) => JSON.stringify(r.body.messages.at(-1)));
      expect(generatorSaw.some((m) => m.includes("pass 1") && m.includes("exit code 0"))).toBe(true);
      // Installed once (the generator's setup), then restored for scrutiny: each tarball fetched once.
      expect(registry.tarballRequests()).toBe(2);
      expect(await branchFiles(app)).not.toContainEqual(expect.stringMatching(/^node_modules\//));
      expect(await branchFiles(app)).toContain("src/farewell.js");

      // The postinstall ran, and reached nothing: no direct connection, and the proxy refused.
      const probe = await findFile(cacheDir, "probe.txt");
      expect(probe).toBeDefined();
      expect(await readFile(probe!, "utf8")).toMatch(/^DIRECT-ERR E\w+\nPROXY 403\n$/);
      expect(elsewhereSaw).toEqual([]);
      await app.close();

      // A second run of the same lock file: restored, not a single tarball asked for.
      app = await start();
      app.github.permissions = { Codertocat: "write" };
      const before = registry.requests.length;
      await app.deliver("issues", labeledPayload());
      const second = await app.waitForRun(runId, 120_000);
      expect(second.phase).toBe("gated");
      expect(app.github.checkRuns.at(-1)!.conclusion).toBe("success");
      expect(registry.tarballRequests()).toBe(2);
      expect(registry.requests.slice(before)).toEqual([]);
    } finally {
      await registry.close();
    }
  }, 300_000);

  it("gives a private registry's token to setup only: the install works, the agent and GitHub never see it", async () => {
    const token = "npm_privateRegistryToken0123456789";
    const registry = await startNpmRegistry({ packages: [words, sneaky()], token });
    try {
      const files = await nodeRepo(registry, await mkdtemp(join(work, "repo-")));
      const configYaml = [...models, "commands:", "  install: npm ci --no-audit --no-fund --ignore-scripts", "  test: npm test"].join("\n");
      app = await startApp({
        script: script("env; cat .npmrc; "),
        files,
        configYaml,
        env: { SHOPFLOOR_EGRESS_ALLOW: registry.host, SHOPFLOOR_SETUP_ENV_NPM_TOKEN: token, SHOPFLOOR_CACHE_DIR: join(work, "cache-private") },
        netConnect: [registry.host],
      });
      app.github.permissions = { Codertocat: "write" };
      await app.deliver("issues", labeledPayload());
      const run = await app.waitForRun(runId, 120_000);
      expect(run.phase).toBe("gated");
      const gate = app.github.checkRuns.at(-1)!;
      expect(gate.output.summary).toContain("| Setup: `npm ci --no-audit --no-fund --ignore-scripts` (install) | ✅ pass");
      expect(registry.tarballRequests()).toBe(2);
      // The agent ran `env` in the sandbox: its output went to the model without the token.
      const toModel = JSON.stringify(app.models.requests.map((r) => r.body));
      expect(toModel).toContain("NPM_TOKEN}"); // the .npmrc's placeholder, read by the agent
      expect(toModel).not.toContain(token);
      expect(JSON.stringify(app.github.requests)).not.toContain(token);
    } finally {
      await registry.close();
    }
  }, 300_000);

  it("stops at a failing install and hands a person the install step with its output", async () => {
    // A private registry, but no setup token: `npm ci` gets 401.
    const registry = await startNpmRegistry({ packages: [words, sneaky()], token: "npm_tokenTheServerNeverGot0123" });
    try {
      const files = await nodeRepo(registry, await mkdtemp(join(work, "repo-")));
      app = await startApp({
        script: script(),
        files,
        configYaml: models.join("\n"),
        env: { SHOPFLOOR_EGRESS_ALLOW: registry.host, SHOPFLOOR_CACHE_DIR: join(work, "cache-failing") },
        netConnect: [registry.host],
      });
      app.github.permissions = { Codertocat: "write" };
      await app.deliver("issues", labeledPayload());
      const run = await app.waitForRun(runId, 120_000);
      expect(run.phase).toBe("escalated");
      expect(run.failure).toMatchObject({ class: "permanent", reason: "setup_failed" });
      // The generator never started: no model call after the plan.
      expect(app.models.requests.filter((r) => r.body.model === "gpt-5-mini")).toEqual([]);
      const handoff = (app.github.comments.get(1) ?? []).map((c) => c.body).find((b) => b.includes("<!-- shopfloor:handoff:"))!;
      expect(handoff).toContain("the install step `npm ci --no-audit --no-fund` exited 1");
      expect(handoff).toMatch(/E401|401/);
      expect(registry.tarballRequests()).toBe(0);
    } finally {
      await registry.close();
    }
  }, 300_000);
});

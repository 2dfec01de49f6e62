import { cp, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { doctor } from "../../src/cli/doctor.js";

const secrets = {
  APP_ID: "918273",
  PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDoctorSecret\n-----END PRIVATE KEY-----\n",
  WEBHOOK_SECRET: "whsec-doctor-never-prints-this",
  ANTHROPIC_API_KEY: "sk-ant-doctor-never-prints-this",
  OPENAI_API_KEY: "sk-openai-doctor-never-prints-this",
};

let root: string;
let stateDir: string;
let workDir: string;
let lines: string[];
const servers: Server[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "shopfloor-doctor-"));
  stateDir = join(root, "state");
  workDir = join(root, "work");
  lines = [];
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
  await rm(root, { recursive: true, force: true });
});

async function writeRun(owner: string, repo: string, issue: number, phase: string): Promise<void> {
  const dir = join(stateDir, "runs", owner, repo, String(issue));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "run.json"), JSON.stringify({ id: `${owner}/${repo}#${issue}`, phase }));
}

async function worktree(owner: string, repo: string, label: string): Promise<string> {
  const dir = join(workDir, "worktrees", owner, repo, label);
  await mkdir(dir, { recursive: true });
  return dir;
}

function detailOf(report: Awaited<ReturnType<typeof doctor>>, name: string) {
  const check = report.checks.find((c) => c.name === name);
  if (!check) throw new Error(`no check named ${name}`);
  return check;
}

/** A one-connection Redis stand-in: records what it is sent and answers like Redis. */
async function fakeRedis(answer: (received: string) => string | undefined): Promise<{ port: number; received: string[] }> {
  const received: string[] = [];
  const server = createServer((socket) => {
    let text = "";
    socket.on("data", (b) => {
      text += b.toString("utf8");
      received.push(text);
      const reply = answer(text);
      if (reply !== undefined) socket.write(reply);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { port: (server.address() as { port: number }).port, received };
}

describe("doctor", () => {
  it("passes on this machine, lists orphans, and never prints a secret", async () => {
    await writeRun("acme", "shop", 7, "building");
    await writeRun("acme", "shop", 8, "gated");
    await writeRun("acme", "shop", 9, "cancelled");
    const live = await worktree("acme", "shop", "7-impl-a1");
    const finished = await worktree("acme", "shop", "8-review-openai-r1-a1");
    const cancelled = await worktree("acme", "shop", "9-scrutiny-1-2");
    const unknown = await worktree("acme", "shop", "12-plan-a1");
    const otherRepo = await worktree("acme", "other", "7-impl-a1");
    const staleJob = join(workDir, "jobs", "acme-shop-3-impl-a1");
    const freshJob = join(workDir, "jobs", "acme-shop-7-impl-a1");
    await mkdir(staleJob, { recursive: true });
    await mkdir(freshJob, { recursive: true });
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    await utimes(staleJob, twoDaysAgo, twoDaysAgo);

    const report = await doctor({ env: { ...secrets }, stateDir, workDir, log: (line) => lines.push(line) });

    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ["git", true],
      ["bubblewrap", true],
      ["ripgrep", true],
      ["app id", true],
      ["private key", true],
      ["webhook secret", true],
      ["anthropic key", true],
      ["openai key", true],
      ["state dir", true],
      ["work dir", true],
      ["model routes", true],
    ]);
    expect(report.ok).toBe(true);
    expect(detailOf(report, "git").detail).toMatch(/^\d+\.\d+/);
    expect(detailOf(report, "webhook secret").detail).toBe("present");
    expect(report.orphans).toEqual([finished, cancelled, unknown, otherRepo, staleJob].sort());
    expect(report.orphans).not.toContain(live);
    expect(report.orphans).not.toContain(freshJob);

    const output = lines.join("\n");
    expect(lines).toContain("✓ bubblewrap: a sandbox starts");
    expect(lines).toContain("✓ anthropic key: present");
    for (const orphan of report.orphans) expect(output).toContain(orphan);
    for (const value of Object.values(secrets)) {
      expect(output).not.toContain(value);
      expect(JSON.stringify(report)).not.toContain(value);
    }
    expect(output).not.toContain("DoctorSecret");
  });

  it("fails on absent credentials and an unreadable key file, naming them without values", async () => {
    const report = await doctor({
      env: { OPENAI_API_KEY: secrets.OPENAI_API_KEY, PRIVATE_KEY_PATH: join(root, "missing.pem") },
      stateDir,
      workDir,
      log: (line) => lines.push(line),
    });

    expect(report.ok).toBe(false);
    expect(lines).toContain("✗ app id: absent");
    expect(lines).toContain("✗ webhook secret: absent");
    expect(lines).toContain("✗ anthropic key: absent");
    expect(lines).toContain("✓ openai key: present");
    expect(detailOf(report, "private key")).toEqual({ name: "private key", ok: false, detail: "PRIVATE_KEY_PATH not readable (ENOENT)" });
    expect(report.orphans).toEqual([]);
    expect(lines.join("\n")).not.toContain(secrets.OPENAI_API_KEY);
  });

  it("reads the private key from PRIVATE_KEY_PATH", async () => {
    const keyFile = join(root, "app.pem");
    await writeFile(keyFile, secrets.PRIVATE_KEY);
    const report = await doctor({ env: { PRIVATE_KEY_PATH: keyFile }, stateDir, workDir, log: (line) => lines.push(line) });
    expect(detailOf(report, "private key").ok).toBe(true);
    expect(lines.join("\n")).not.toContain("DoctorSecret");
  });

  it("reports a state dir it cannot write", async () => {
    const blocker = join(root, "a-file");
    await writeFile(blocker, "");
    const report = await doctor({ env: secrets, stateDir: join(blocker, "state"), workDir, log: (line) => lines.push(line) });
    expect(detailOf(report, "state dir").ok).toBe(false);
    expect(detailOf(report, "work dir").ok).toBe(true);
  });

  it("checks Redis with AUTH and PING when REDIS_URL is set, without printing the password", async () => {
    const redis = await fakeRedis((text) => (text.includes("PING") ? "+OK\r\n+PONG\r\n" : undefined));
    const password = "redis-pass-never-printed";
    const report = await doctor({
      env: { ...secrets, REDIS_URL: `redis://:${password}@127.0.0.1:${redis.port}/0` },
      stateDir,
      workDir,
      log: (line) => lines.push(line),
    });
    expect(detailOf(report, "redis")).toEqual({ name: "redis", ok: true, detail: `127.0.0.1:${redis.port} answers PING` });
    expect(redis.received.find((t) => t.includes("PING"))).toBe(`*2\r\n$4\r\nAUTH\r\n$${password.length}\r\n${password}\r\n*1\r\n$4\r\nPING\r\n`);
    // The fake speaks only AUTH and PING: the queue's health cannot be read from it, and doctor says so.
    expect(detailOf(report, "queue")).toMatchObject({ ok: false });
    expect(lines.join("\n")).not.toContain(password);
  });

  it("reports Redis refusing the password", async () => {
    const redis = await fakeRedis(() => "-WRONGPASS invalid username-password pair\r\n");
    const report = await doctor({ env: { ...secrets, REDIS_URL: `redis://:nope@127.0.0.1:${redis.port}` }, stateDir, workDir, log: (line) => lines.push(line) });
    expect(detailOf(report, "redis")).toEqual({ name: "redis", ok: false, detail: `127.0.0.1:${redis.port}: WRONGPASS invalid username-password pair` });
    expect(report.ok).toBe(false);
  });

  it("reports an unreachable Redis", async () => {
    const redis = await fakeRedis(() => undefined);
    const port = redis.port;
    await new Promise((done) => servers.pop()!.close(done));
    const report = await doctor({ env: { ...secrets, REDIS_URL: `redis://127.0.0.1:${port}` }, stateDir, workDir, log: (line) => lines.push(line) });
    expect(detailOf(report, "redis")).toEqual({ name: "redis", ok: false, detail: `127.0.0.1:${port}: cannot connect (ECONNREFUSED)` });
  });

  it("passes the shipped role cards and default reviewers as current", async () => {
    const report = await doctor({ env: secrets, stateDir, workDir, log: (line) => lines.push(line) });
    expect(detailOf(report, "model routes")).toEqual({ name: "model routes", ok: true, detail: "6 default routes, none deprecated" });
    expect(lines).toContain("✓ model routes: 6 default routes, none deprecated");
  });

  it("warns about a role card whose model the SDK deprecates, naming the route, its end of life and the replacement", async () => {
    const agentsDir = join(root, "agents");
    await cp(new URL("../../agents", import.meta.url), agentsDir, { recursive: true });
    const planner = join(agentsDir, "planner.md");
    await writeFile(planner, (await readFile(planner, "utf8")).replace(/^model: .*$/m, "model: anthropic/claude-sonnet-4-5"));

    const report = await doctor({ env: secrets, stateDir, workDir, agentsDir, log: (line) => lines.push(line) });

    const check = detailOf(report, "model routes");
    expect(check).toMatchObject({ ok: true, warning: true, detail: "1 of 6 default routes use a deprecated model" });
    const warning = "planner.md: anthropic/claude-sonnet-4-5 is deprecated (end of life 2026-11-30); use anthropic/claude-sonnet-5-5";
    expect(check.lines).toEqual([warning]);
    expect(lines).toContain("! model routes: 1 of 6 default routes use a deprecated model");
    expect(lines).toContain(`    ${warning}`);
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).not.toContain("model routes");
  });

  it("fails the model routes check on a role card it cannot read", async () => {
    const report = await doctor({ env: secrets, stateDir, workDir, agentsDir: join(root, "no-agents"), log: (line) => lines.push(line) });
    expect(detailOf(report, "model routes")).toMatchObject({ ok: false, detail: expect.stringContaining("no-agents") });
    expect(report.ok).toBe(false);
  });

  it("has no Redis check without REDIS_URL", async () => {
    const report = await doctor({ env: secrets, stateDir, workDir, log: () => {} });
    expect(report.checks.some((c) => c.name === "redis")).toBe(false);
  });
});

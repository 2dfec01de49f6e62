import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSandboxed, sandboxAvailable, Workspace } from "../../src/workspace/index.js";
import type { SandboxRequest } from "../../src/workspace/index.js";
import { makeOriginRepo } from "../kit/git-server.js";

const execFileAsync = promisify(execFile);
const repo = { owner: "acme", name: "widgets", installationId: 1 };
// Outside /tmp on purpose: the sandbox mounts a fresh /tmp, which would make these checks trivial.
let base: string;
let workDir: string;
let stateDir: string;
let sibling: string;
let ws: Workspace;
let wt: string;
let otherWt: string;
let sha: string;

const run = (command: string, extra: Partial<SandboxRequest> = {}) =>
  runSandboxed({ cwd: wt, command, timeoutMs: 10_000, maxOutputBytes: 64 * 1024, ...extra });

beforeAll(async () => {
  base = await mkdtemp("/var/tmp/sandbox-test-");
  workDir = join(base, "work");
  stateDir = join(base, "state");
  sibling = join(base, "sibling");
  await mkdir(stateDir);
  await mkdir(sibling);
  await writeFile(join(stateDir, "secret.txt"), "state-secret\n");
  const originRoot = join(base, "origin");
  sha = await makeOriginRepo(originRoot, repo.owner, repo.name, { "README.md": "hello\n" });
  ws = new Workspace({ workDir, tokenFor: async () => "unused-for-file-remotes", remoteUrlFor: (r) => join(originRoot, r.owner, `${r.name}.git`) });
  await ws.syncMirror(repo);
  wt = await ws.addWorktree(repo, sha, "sandboxed");
  otherWt = await ws.addWorktree(repo, sha, "neighbour");
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("runSandboxed", () => {
  it("has bubblewrap here", async () => {
    expect(await sandboxAvailable()).toEqual({ ok: true });
  });

  it("runs in the worktree, can write there, and interleaves stdout and stderr", async () => {
    const r = await run("echo one; echo two >&2; echo made > made.txt; pwd; exit 7");
    expect(r).toMatchObject({ exitCode: 7, timedOut: false, truncated: false });
    expect(r.output).toBe(`one\ntwo\n${wt}\n`);
    expect(await readFile(join(wt, "made.txt"), "utf8")).toBe("made\n");
  });

  it("sees the repository read-only, so git can read but not change it", async () => {
    const r = await run("git rev-parse HEAD && git status --porcelain");
    expect(r.exitCode).toBe(0);
    expect(r.output.startsWith(`${sha}\n`)).toBe(true);
    const mirror = ws.mirrorPath(repo);
    const attempts = [
      "echo 'gitdir: /tmp/evil' > .git",
      "rm -f .git",
      `echo '#!/bin/sh' > ${mirror}/hooks/pre-commit`,
      `echo x >> ${mirror}/config`,
      "git commit --allow-empty -qm x",
    ];
    for (const command of attempts) {
      const denied = await run(command);
      expect(denied.exitCode, command).not.toBe(0);
    }
    expect(await readFile(join(wt, ".git"), "utf8")).toMatch(/^gitdir: /);
    expect(existsSync(join(mirror, "hooks", "pre-commit"))).toBe(false);
    expect(await readFile(join(mirror, "config"), "utf8")).not.toMatch(/^x$/m);
  });

  it("cannot write outside the worktree", async () => {
    const name = `escape-${randomBytes(4).toString("hex")}`;
    for (const target of [join(sibling, name), join(otherWt, name), join(workDir, name), `/root/${name}`]) {
      // Paths under /var/tmp may exist inside, on the sandbox's own tmpfs; the host never sees them.
      await run(`echo pwned > ${target}`);
      expect(existsSync(target), target).toBe(false);
    }
    // Not even by remounting: a root runner's sandbox must hold no capability to do that.
    const remount = await run(`mount -o remount,bind,rw / ; echo pwned > ${join(sibling, name)}`);
    expect(remount.exitCode).not.toBe(0);
    expect(existsSync(join(sibling, name))).toBe(false);
    // /tmp is the sandbox's own: writable inside, invisible to the host.
    const r = await run(`echo inside > /tmp/${name} && cat /tmp/${name}`);
    expect(r).toMatchObject({ exitCode: 0, output: "inside\n" });
    expect(existsSync(`/tmp/${name}`)).toBe(false);
  });

  it("hides the runner's state and work directories, except the worktree", async () => {
    const r = await run(`cat ${stateDir}/secret.txt; ls ${join(workDir, "worktrees", "acme", "widgets")}; cat README.md`);
    expect(r.output).not.toContain("state-secret");
    expect(r.output).not.toContain("neighbour");
    expect(r.output).toContain("sandboxed\nhello\n");
    // Readable from outside: the check above means something.
    expect(await readFile(join(stateDir, "secret.txt"), "utf8")).toBe("state-secret\n");
  });

  it("shows an allowlist of the host: no app directory, .env, key file, home, ~/.npmrc, ~/.ssh or /run", async () => {
    const canary = `canary-${randomBytes(8).toString("hex")}`;
    // Beside the app, as Probot's setup writes it, and a key file where PRIVATE_KEY_PATH would name it.
    const dotEnv = join(process.cwd(), `.env-sandbox-test-${randomBytes(4).toString("hex")}`);
    const keyFile = join(base, "app-key.pem");
    await writeFile(dotEnv, `WEBHOOK_SECRET=${canary}\n`);
    await writeFile(keyFile, `-----BEGIN PRIVATE KEY-----\n${canary}\n`);
    try {
      for (const path of [dotEnv, keyFile]) expect(await readFile(path, "utf8")).toContain(canary);
      const probes = [dotEnv, keyFile, join(process.cwd(), "package.json"), "/root/.npmrc", "/root/.ssh", "/home", "/root", "/run", "/var/run", "/var/lib", "/etc/shadow", "/etc/npmrc", "/sys/class"];
      const r = await run(`for p in /usr ${probes.join(" ")}; do if ls -d "$p" >/dev/null 2>&1; then echo "VISIBLE $p"; fi; done; cat ${dotEnv} ${keyFile} 2>&1; grep -rs ${canary} /etc /tmp /var ${base} 2>/dev/null | head -3; echo end`);
      // The probe sees what is there (/usr), and nothing of the rest.
      expect(r.output.match(/VISIBLE .*/g)).toEqual(["VISIBLE /usr"]);
      expect(r.output).not.toContain(canary);
      expect(r.output).toMatch(/end\n$/);
      // What commands need is there: the shell, node, git, CA certificates.
      const tools = await run("node --version && git --version && test -s /etc/ssl/certs/ca-certificates.crt && echo ok");
      expect(tools.exitCode).toBe(0);
    } finally {
      await rm(dotEnv, { force: true });
    }
  });

  it("cannot connect to a Unix socket on the host, by path or abstract name", async () => {
    const sockPath = join(base, "host.sock");
    const abstract = `\0shopfloor-test-${randomBytes(4).toString("hex")}`;
    const accepted: string[] = [];
    const servers = [sockPath, abstract].map((path) => {
      const server = createServer((s) => {
        accepted.push(path);
        s.end("hello from the host\n");
      });
      return { server, listening: new Promise<void>((done) => server.listen(path, done)) };
    });
    await Promise.all(servers.map((s) => s.listening));
    try {
      const probe = (path: string) =>
        `node -e "require('net').connect(${JSON.stringify(path).replace(/"/g, "'")}).on('data', (d) => process.stdout.write('GOT ' + d)).on('error', (e) => console.log(e.code))"`;
      // From outside, both answer: the probe can succeed.
      const outside = await execFileAsync("/bin/sh", ["-c", `${probe(sockPath)}; ${probe(abstract.replace("\0", "\\0"))}`]);
      expect(outside.stdout.match(/GOT hello/g)?.length).toBe(2);
      accepted.length = 0;
      const r = await run(`${probe(sockPath)}; ${probe(abstract.replace("\0", "\\0"))}`);
      expect(r.output).not.toContain("GOT");
      expect(accepted).toEqual([]);
    } finally {
      for (const s of servers) s.server.close();
    }
  });

  it("cannot reach a TCP listener on the host's loopback", async () => {
    const connections: number[] = [];
    let connected: () => void = () => undefined;
    const firstConnection = new Promise<void>((done) => (connected = done));
    const server: Server = createServer((s) => {
      connections.push(1);
      connected();
      s.destroy();
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const port = (server.address() as { port: number }).port;
    try {
      const probe = `bash -c 'echo hi > /dev/tcp/127.0.0.1/${port}' && echo CONNECTED`;
      const outside = await execFileAsync("/bin/sh", ["-c", probe]); // the same probe connects from outside
      expect(outside.stdout).toBe("CONNECTED\n");
      await firstConnection;
      const r = await run(`${probe}; node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => console.log('CONNECTED')).on('error', (e) => { console.log(e.code); process.exit(3) })"`);
      expect(r.output).not.toContain("CONNECTED");
      expect(r.exitCode).toBe(3);
      expect(connections.length).toBe(1);
    } finally {
      server.close();
    }
  });

  it("starts from an empty environment, whatever the runner holds", async () => {
    const canary = `canary-${randomBytes(8).toString("hex")}`;
    process.env.SHOPFLOOR_TEST_SECRET = canary;
    try {
      const r = await run(
        "env; echo; cat /proc/self/environ /proc/1/environ; for f in /proc/[0-9]*/environ; do cat $f 2>/dev/null; done; echo; echo done",
        { env: { GIVEN: "by-request" } },
      );
      expect(r.exitCode).toBe(0);
      expect(r.output).toContain("GIVEN=by-request");
      expect(r.output).toContain("CI=1");
      expect(r.output).toContain("HOME=/tmp");
      expect(r.output).not.toContain(canary);
      expect(r.output).not.toContain("SHOPFLOOR_TEST_SECRET");
    } finally {
      delete process.env.SHOPFLOOR_TEST_SECRET;
    }
  });

  it("stops an endless loop at the timeout, children included", async () => {
    const r = await run("(sleep 1; echo late > late.txt) & echo started; while :; do :; done", { timeoutMs: 400 });
    expect(r).toMatchObject({ exitCode: 124, timedOut: true, output: "started\n" });
    expect(r.ms).toBeLessThan(3000);
    await new Promise((done) => setTimeout(done, 1500));
    expect(existsSync(join(wt, "late.txt"))).toBe(false);
  });

  it("keeps the tail of output over the cap", async () => {
    const r = await run("seq 1 100000", { maxOutputBytes: 1000 });
    expect(r.exitCode).toBe(0);
    expect(r.truncated).toBe(true);
    expect(Buffer.byteLength(r.output)).toBeLessThanOrEqual(1000);
    expect(r.output.endsWith("99999\n100000\n")).toBe(true);
    expect(r.output).not.toContain("\n2\n3\n");
  });

  it("caps the number of processes", async () => {
    // Bounded on purpose (400 sleeps) so a missing limit cannot hurt the host.
    // The loop's subshell dies at the first failed fork; counting /proc by glob needs no fork.
    const r = await run("(for i in $(seq 1 400); do sleep 2 & done) 2>/dev/null; set -- /proc/[0-9]*; echo $#", { timeoutMs: 15_000 });
    const count = Number(r.output.trim());
    expect(count).toBeGreaterThan(50);
    expect(count).toBeLessThanOrEqual(256);
  });

  it("stops a fork bomb and reports it as a failure", async () => {
    // Both bombs run under a 5 s timeout, so even without the process cap they end.
    const marker = `bomb${randomBytes(4).toString("hex")}`;
    const foreground = await run(`${marker}(){ ${marker} | ${marker}; }; ${marker}`, { timeoutMs: 5000 });
    expect(foreground.exitCode).not.toBe(0);
    expect(foreground.timedOut || /Cannot fork/.test(foreground.output)).toBe(true);

    // The classic one backgrounds itself (whether the shell's next fork still succeeds is luck);
    // whatever it left is gone once the command returns.
    const classic = await run(`bash -c '${marker}(){ ${marker}|${marker}& };${marker}'; sleep 1`, { timeoutMs: 5000 });
    expect(classic.output).toMatch(/fork/);
    expect(classic.ms).toBeLessThan(7000);
    const leftovers: string[] = [];
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmd.includes(marker)) leftovers.push(pid);
    }
    expect(leftovers).toEqual([]);
    expect(execFileSync("/bin/echo", ["host still forks"]).toString()).toBe("host still forks\n");
  });
});

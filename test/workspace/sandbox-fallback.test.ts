import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runSandboxed, sandboxAvailable } from "../../src/workspace/index.js";

// Each test file runs in its own process, so pointing at a missing bwrap here affects only this file.
let dir: string;
beforeAll(async () => {
  process.env.SHOPFLOOR_BWRAP = "/nonexistent/bwrap";
  dir = await mkdtemp(join(tmpdir(), "sandbox-fallback-"));
});
afterAll(async () => {
  delete process.env.SHOPFLOOR_BWRAP;
  delete process.env.SHOPFLOOR_ALLOW_UNSANDBOXED;
  await rm(dir, { recursive: true, force: true });
});

describe("without bubblewrap", () => {
  it("says why it is unavailable", async () => {
    const check = await sandboxAvailable();
    expect(check.ok).toBe(false);
    expect(check.reason).toMatch(/ENOENT/);
  });

  it("refuses to run a command unless unsandboxed runs are allowed", async () => {
    await expect(runSandboxed({ cwd: dir, command: "echo hi > ran.txt", timeoutMs: 5000, maxOutputBytes: 1000 })).rejects.toThrow(
      /bubblewrap cannot run/,
    );
    await expect(readFile(join(dir, "ran.txt"))).rejects.toThrow(/ENOENT/);
  });

  it("when allowed, runs with the clean environment and limits and warns loudly once", async () => {
    process.env.SHOPFLOOR_ALLOW_UNSANDBOXED = "1";
    process.env.SHOPFLOOR_TEST_SECRET = "fallback-canary";
    const warn = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const first = await runSandboxed({ cwd: dir, command: "env; pwd", timeoutMs: 5000, maxOutputBytes: 10_000, env: { GIVEN: "yes" } });
      expect(first.exitCode).toBe(0);
      expect(first.output).toContain("GIVEN=yes");
      expect(first.output).toContain(`${dir}\n`);
      expect(first.output).not.toContain("fallback-canary");
      const second = await runSandboxed({ cwd: dir, command: "while :; do :; done", timeoutMs: 300, maxOutputBytes: 1000 });
      expect(second).toMatchObject({ timedOut: true, exitCode: 124 });
      const warnings = warn.mock.calls.map((c) => String(c[0])).filter((t) => t.includes("WITHOUT a sandbox"));
      expect(warnings).toHaveLength(1);
    } finally {
      warn.mockRestore();
      delete process.env.SHOPFLOOR_TEST_SECRET;
    }
  });
});

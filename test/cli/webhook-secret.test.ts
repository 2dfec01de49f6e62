import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { webhookSecretRefusal } from "../../src/cli/webhook-secret.js";
import { freePort } from "../kit/port.js";

const root = new URL("../..", import.meta.url).pathname;
const tsx = join(root, "node_modules/.bin/tsx");
const cli = join(root, "src/cli.ts");
const key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC\n-----END PRIVATE KEY-----\n";

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), "shopfloor-serve-"));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

/** `shopfloor serve` in a clean directory with only `env` (and PATH); resolves on exit or when `until` sees its port answer. */
function serve(env: Record<string, string>, until?: (port: number) => Promise<boolean>): Promise<{ code: number | null; stderr: string; answered: boolean }> {
  return freePort().then(
    (port) =>
      new Promise((resolve, reject) => {
        const child = spawn(tsx, [cli, "serve"], {
          cwd,
          env: { PATH: process.env.PATH ?? "", HOME: cwd, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "error", SHOPFLOOR_STATE_DIR: join(cwd, "state"), SHOPFLOOR_WORK_DIR: join(cwd, "work"), ...env },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        let answered = false;
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("exit", (code) => resolve({ code, stderr, answered }));
        if (until) {
          const poll = async (): Promise<void> => {
            if (child.exitCode !== null) return;
            if (await until(port)) {
              answered = true;
              child.kill("SIGTERM");
              return;
            }
            setTimeout(() => void poll(), 100);
          };
          void poll();
        }
      }),
  );
}

describe("shopfloor serve and the webhook secret", () => {
  it("refuses to serve an App's webhooks without WEBHOOK_SECRET, says why, and exits non-zero", async () => {
    const { code, stderr } = await serve({ APP_ID: "1234", PRIVATE_KEY: key });
    expect(code).toBe(2);
    expect(stderr).toMatch(/WEBHOOK_SECRET is not set/);
    expect(stderr).toMatch(/forge/);
  }, 60_000);

  it("refuses Probot's public default secret as well", async () => {
    const { code, stderr } = await serve({ APP_ID: "1234", PRIVATE_KEY: key, WEBHOOK_SECRET: "development" });
    expect(code).toBe(2);
    expect(stderr).toMatch(/public default/);
  }, 60_000);

  it("still serves Probot's setup page when no App is registered yet", async () => {
    const answers = async (port: number) => {
      const res = await fetch(`http://127.0.0.1:${port}/probot`).catch(() => undefined);
      return res !== undefined && res.status < 500;
    };
    const { stderr, answered } = await serve({}, answers);
    expect(stderr).not.toMatch(/WEBHOOK_SECRET/);
    expect(answered).toBe(true);
  }, 60_000);
});

describe("webhookSecretRefusal", () => {
  it("reads the secret from .env, where Probot's setup writes it", () => {
    expect(webhookSecretRefusal({ APP_ID: "1234" }, cwd)).toMatch(/not set/);
    writeFileSync(join(cwd, ".env"), "APP_ID=1234\nWEBHOOK_SECRET=s3cret-from-setup\n");
    expect(webhookSecretRefusal({}, cwd)).toBeUndefined();
  });
});

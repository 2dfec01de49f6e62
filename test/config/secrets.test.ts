import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSecrets } from "../../src/config/secrets.js";

describe("loadSecrets", () => {
  const keyBody = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
  const pem = `-----BEGIN PRIVATE KEY-----\n${keyBody}\n-----END PRIVATE KEY-----`;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "shopfloor-secrets-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("takes the App's key from the file PRIVATE_KEY_PATH names, whole and line by line", async () => {
    const keyFile = join(dir, "app.pem");
    await writeFile(keyFile, `\n${pem}\n`);
    const secrets = loadSecrets({ PRIVATE_KEY_PATH: keyFile });
    expect(secrets).toContain(pem);
    expect(secrets).toContain(keyBody);
    expect(secrets).not.toContain(keyFile);
  });

  it("skips a key file that cannot be read", () => {
    expect(loadSecrets({ PRIVATE_KEY_PATH: join(dir, "missing.pem"), WEBHOOK_SECRET: "whsec-0123456789" })).toEqual(["whsec-0123456789"]);
  });

  it("takes every SHOPFLOOR_SETUP_ENV_ value whatever its name, and the App's own secrets, but nothing else", () => {
    const secrets = loadSecrets({
      SHOPFLOOR_SETUP_ENV_NPM_CONFIG__AUTH: "bnBtdXNlcjpucG1wYXNz",
      SHOPFLOOR_SETUP_ENV_PIP_INDEX_URL: "https://user:pa55word@pypi.example.com/simple",
      SHOPFLOOR_SETUP_ENV_CI: "true",
      WEBHOOK_SECRET: "whsec-0123456789",
      GITHUB_CLIENT_SECRET: "0123456789abcdef0123456789abcdef01234567",
      APP_ID: "123456789",
      GITHUB_CLIENT_ID: "Iv1.0123456789abcdef",
      SHOPFLOOR_STATE_DIR: "/var/lib/shopfloor/state",
      PATH: "/usr/local/bin:/usr/bin:/bin",
    });
    expect(secrets).toEqual([
      "https://user:pa55word@pypi.example.com/simple",
      "0123456789abcdef0123456789abcdef01234567",
      "bnBtdXNlcjpucG1wYXNz",
      "whsec-0123456789",
    ]);
  });

  it("lists each secret once, longest first, when the key is in both PRIVATE_KEY and its file", async () => {
    const keyFile = join(dir, "app.pem");
    await writeFile(keyFile, `${pem}\n`);
    expect(loadSecrets({ PRIVATE_KEY: pem, PRIVATE_KEY_PATH: keyFile })).toEqual([pem, keyBody, "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"]);
  });
});

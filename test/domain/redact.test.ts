import { describe, expect, it } from "vitest";
import { redact, secretsOf } from "../../src/domain/index.js";

describe("redact", () => {
  const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----";
  const env = { OPENAI_API_KEY: "sk-live-abcdefghijklmnop", PRIVATE_KEY: pem, PATH: "/usr/bin:/bin", SHORT_TOKEN: "abc" };

  it("knows secrets by their variable names, multi-line ones line by line, and ignores the rest", () => {
    const secrets = secretsOf(env);
    expect(secrets).toContain("sk-live-abcdefghijklmnop");
    expect(secrets).toContain("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
    expect(secrets).not.toContain("/usr/bin:/bin");
    expect(secrets).not.toContain("abc");
  });

  it("removes them wherever they appear, also inside JSON, and anything shaped like a GitHub token", () => {
    const secrets = secretsOf(env);
    const json = JSON.stringify({ body: `key ${env.OPENAI_API_KEY}, pem ${pem}, token ghs_0123456789abcdefghijABCDEFGHIJ` });
    const out = redact(json, secrets);
    expect(out).not.toContain("sk-live-abcdefghijklmnop");
    expect(out).not.toContain("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
    expect(out).not.toContain("ghs_0123456789");
    expect(JSON.parse(out).body).toContain("key [redacted]");
  });
});

import { describe, expect, it } from "vitest";
import { redact, secretsOf } from "../../src/domain/index.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

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

describe("redact, encoded secrets", () => {
  // Chosen so that its base64 has `+`, `/` (base64url differs) and padding, and it needs URL escapes.
  const key = "rk_live?A>>~ok?z 51Hs/9+xQ=!";
  const secrets = [key];

  it.each([
    ["base64", Buffer.from(key).toString("base64")],
    ["base64 without padding", Buffer.from(key).toString("base64").replace(/=+$/, "")],
    ["base64url", Buffer.from(key).toString("base64url")],
    ["hex", Buffer.from(key).toString("hex")],
    ["upper-case hex", Buffer.from(key).toString("hex").toUpperCase()],
    ["encodeURIComponent", encodeURIComponent(key)],
    ["form encoding", new URLSearchParams({ k: key }).toString().slice(2)],
    ["lower-case %xx escapes", encodeURIComponent(key).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())],
  ])("removes the key written as %s", (_form, encoded) => {
    expect(encoded).not.toContain(key);
    expect(redact(`leaked: ${encoded} (end)`, secrets)).toBe("leaked: [redacted] (end)");
  });

  describe("wrapped over lines", () => {
    const body = Array.from({ length: 4 }, (_, i) => `MIIEvQIBADANBgkqhkiG9w0BAQEFAASC${i}BKcwggSjAgEAAoIBAQC7VJTUt9Us8cK`);
    const pem = ["-----BEGIN PRIVATE KEY-----", ...body, "-----END PRIVATE KEY-----"].join("\n");
    const pemSecrets = secretsOf({ PRIVATE_KEY: pem });
    const wrap = (text: string, columns: number) => text.match(new RegExp(`.{1,${columns}}`, "g"))!.join("\n");

    it("removes a base64 PEM key as `base64 key.pem` prints it, at 76 columns, also inside JSON", () => {
      const wrapped = wrap(b64(`${pem}\n`), 76);
      // Left over: the file's final newline, which the key has not, and padding.
      expect(redact(`$ base64 key.pem\n${wrapped}\n$ `, pemSecrets)).toBe("$ base64 key.pem\n[redacted]o=\n$ ");
      expect(JSON.parse(redact(JSON.stringify({ body: wrapped }), pemSecrets))).toEqual({ body: "[redacted]o=" });
    });

    it("removes the key's body wrapped at another width than its own lines", () => {
      const out = redact(`body:\n${wrap(body.join(""), 76)}\n`, pemSecrets);
      expect(out.replace(/\[redacted\]/g, "")).toBe("body:\n\n");
    });
  });

  it.each([
    ["prefix", 0],
    ["prefix1", 1],
    ["prefix12", 2],
  ])("removes the key's part of a larger base64 blob where it starts at byte %s (offset %i mod 3)", (prefix) => {
    const suffix = "-suffix";
    const blob = b64(`${prefix}${key}${suffix}`);
    const out = redact(`blob ${blob}`, secrets);
    const [before = "", after = "", ...more] = out.slice("blob ".length).split("[redacted]");
    expect(more).toEqual([]);
    // What is left is the neighbours' characters, and at most one character each side that
    // mixes their bits with the key's (two for padding at the end).
    expect(blob.startsWith(before) && blob.endsWith(after)).toBe(true);
    expect(before.length).toBeLessThanOrEqual(Math.ceil((prefix.length * 4) / 3) + 1);
    expect(after.length).toBeLessThanOrEqual(Math.ceil((suffix.length * 4) / 3) + 3);
  });

  it("leaves unrelated base64 and hex alone, also beside an encoded key", () => {
    const unrelated = `${b64("an ordinary config file\nwith lines\n")} ${"3f786850e387550fdab836ed7e6dc881de23001b"} ${Buffer.from("rk_live?A>>~ok?x").toString("base64url")}`;
    expect(redact(unrelated, secrets)).toBe(unrelated);
    expect(redact(`${unrelated} ${Buffer.from(key).toString("hex")}`, secrets)).toBe(`${unrelated} [redacted]`);
  });

  it("removes a short secret only as itself: its encodings are too short to tell from chance", () => {
    const short = "hunter22";
    const encoded = `${b64(short)} ${Buffer.from(short).toString("hex")}`;
    expect(redact(`${short} ${encoded}`, [short])).toBe(`[redacted] ${encoded}`);
  });
});

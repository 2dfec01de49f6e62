import { generateKeyPairSync } from "node:crypto";
import nock from "nock";
import { Probot } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { classifyFailure } from "../../src/domain/index.js";
import { canWrite } from "../../src/github/permissions.js";
import { ShopfloorOctokit } from "../../src/github/rate-limits.js";
import { expectInstallationToken } from "../intake/probot.js";
import { api, at, fenceGitHub } from "./kit.js";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
const permissionPath = `/repos/${at.owner}/${at.repo}/collaborators/Codertocat/permission`;
const secondary = { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: "https://docs.github.com/rest" };

let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

/**
 * The client as `shopfloor serve` builds it: Probot merges its own throttle options into the
 * class. Only the unit of GitHub's waits is shrunk (a "second" is a millisecond) to keep the test fast.
 */
async function installationClient() {
  const Octokit = ShopfloorOctokit.defaults((options: any) => ({ ...options, throttle: { ...options?.throttle, retryAfterBaseValue: 1 } }));
  const probot = new Probot({ appId: 1234, privateKey, logLevel: "fatal", Octokit });
  expectInstallationToken(42);
  return probot.auth(42);
}

describe("Probot's client under GitHub's rate limits", () => {
  it("waits out a short secondary rate limit and carries on", async () => {
    nock(api)
      .get(permissionPath)
      .reply(403, secondary, { "retry-after": "3" })
      .get(permissionPath)
      .reply(200, { permission: "write", role_name: "write", user: { login: "Codertocat", permissions: { admin: false, maintain: false, push: true, triage: true, pull: true } } });

    await expect(canWrite(await installationClient(), at, "Codertocat")).resolves.toBe(true);
    github.verify();
  });

  it("does not sit out an exhausted hourly quota inside a request: the error says how long to wait", async () => {
    const reset = Math.floor(Date.now() / 1000) + 1800;
    nock(api).get(permissionPath).reply(403, { message: "API rate limit exceeded for installation ID 42." }, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) });

    const error = await canWrite(await installationClient(), at, "Codertocat").then(() => undefined, (e: unknown) => e);
    github.verify();
    const failure = classifyFailure(error);
    expect(failure).toMatchObject({ class: "transient", reason: "rate_limit" });
    expect(failure.retryAfterMs).toBeGreaterThan(1_790_000);
  });

  it("gives up after two waits in place, so a persistent limit goes back to the engine's backoff", async () => {
    nock(api).get(permissionPath).times(3).reply(403, secondary, { "retry-after": "2" });

    const error = await canWrite(await installationClient(), at, "Codertocat").then(() => undefined, (e: unknown) => e);
    github.verify();
    expect(classifyFailure(error)).toMatchObject({ class: "transient", reason: "rate_limit", retryAfterMs: 2_000 });
  });
});

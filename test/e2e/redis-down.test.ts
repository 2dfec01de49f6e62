import { afterEach, describe, expect, it } from "vitest";
import { startApp, type AppHarness } from "../kit/app.js";
import { startRedis, type RedisServer } from "../kit/redis.js";
import { configYaml, labeledPayload, projectFiles, script, goodFarewell } from "./scenario.js";
import { commentPayload } from "./people-kit.js";

let app: AppHarness | undefined;
let redis: RedisServer | undefined;

afterEach(async () => {
  await app?.close();
  await redis?.stop();
  app = undefined;
  redis = undefined;
});

describe("distributed mode with Redis down", () => {
  it("answers webhooks 503, inside GitHub's 10 s, so nothing is acknowledged that was not stored", async () => {
    redis = await startRedis();
    app = await startApp({ script: script(goodFarewell), files: projectFiles, configYaml, env: { REDIS_URL: redis.url, SHOPFLOOR_EMBEDDED_RUNNER: "0" } });
    app.github.permissions = { Codertocat: "write" };
    await redis.stop();
    redis = undefined;

    const started = Date.now();
    expect(await app.deliver("issues", labeledPayload(), "down-1")).toBe(503);
    expect(Date.now() - started).toBeLessThan(9_000);
    expect(await app.deliver("issue_comment", commentPayload("/retry"), "down-2")).toBe(503);
    // A malformed delivery needs no storage: still acknowledged, and changes nothing.
    expect(await app.deliver("issues", { action: "labeled" }, "down-3")).toBe(200);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { runGit } from "../../src/workspace/git.js";
import { RedisRunStore } from "../../src/store/redis.js";
import { terminalPhases, type Run } from "../../src/domain/index.js";
import { startApp, owner, repoName, type AppHarness } from "../kit/app.js";
import { startRedis, type RedisServer } from "../kit/redis.js";
import { configYaml, goodFarewell, labeledPayload, projectFiles, script } from "./scenario.js";
import { join } from "node:path";
import { readdir } from "node:fs/promises";

const runId = `${owner}/${repoName}#1`;
let app: AppHarness | undefined;
let redis: RedisServer | undefined;
let store: RedisRunStore | undefined;

afterEach(async () => {
  await app?.close();
  await store?.close();
  await redis?.stop();
  app = undefined;
  store = undefined;
  redis = undefined;
});

async function finished(s: RedisRunStore, id: string, timeoutMs = 60_000): Promise<Run> {
  const started = Date.now();
  for (;;) {
    const run = await s.load(id);
    if (run && terminalPhases.includes(run.phase) && run.pending.length === 0) return run;
    if (Date.now() - started > timeoutMs) throw new Error(`run not finished: ${run?.phase}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("distributed mode: Redis store and BullMQ queue", () => {
  it("runs the whole flow with its notes in Redis and its jobs through BullMQ", async () => {
    redis = await startRedis();
    app = await startApp({ script: script(goodFarewell), files: projectFiles, configYaml, env: { REDIS_URL: redis.url } });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload(), "dist-1")).toBe(200);
    store = await RedisRunStore.connect(redis.url);
    const run = await finished(store, runId);
    expect(run.failure?.detail ?? "none").toBe("none");
    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");
    expect(app.github.unexpected).toEqual([]);
    expect(app.github.count("POST", `/repos/${owner}/${repoName}/pulls`)).toBe(1);
    const branch = (await runGit(["show", "shopfloor/1-add-farewell-name:src/farewell.js"], { cwd: join(app.originRoot, owner, `${repoName}.git`) })).stdout;
    expect(branch).toBe(goodFarewell);
    // The journal lives in Redis, and nothing of the run was written to the file state dir.
    expect((await store.journal(runId)).map((e) => e.event.type)).toContain("gate.published");
    expect(await readdir(join(app.stateDir, "runs")).catch(() => [])).toEqual([]);
  });
});

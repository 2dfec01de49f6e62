import { afterEach, describe, expect, it } from "vitest";
import { startApp, type AppHarness } from "../kit/app.js";
import { startRedis, type RedisServer } from "../kit/redis.js";
import type { ModelScript } from "../kit/model-server.js";
import { configYaml, labeledPayload, projectFiles, reviewerScript } from "./scenario.js";
import { commentPayload, originTip, planTurn, runId, unlabeledPayload, waitUntil, quiesce, settle } from "./people-kit.js";
import { RedisRunStore } from "../../src/store/redis.js";
import { FileRunStore } from "../../src/store/file.js";
import type { RunStore } from "../../src/store/run-store.js";

let app: AppHarness | undefined;
let redis: RedisServer | undefined;
let notes: (RunStore & { close?(): Promise<void> }) | undefined;
afterEach(async () => {
  await quiesce(app);
  await app?.close();
  await notes?.close?.();
  await redis?.stop();
  app = undefined;
  redis = undefined;
  notes = undefined;
});

/** The generator's first model call never answers: the build job is in flight until something stops it. */
const script: ModelScript = { ...reviewerScript(1), "claude-haiku-4-5": [planTurn], "gpt-5-mini": [{ hang: true }, { hang: true }] };
const generatorCalls = (h: AppHarness) => h.models.requests.filter((r) => JSON.stringify(r.body).includes("gpt-5-mini")).length;
const writes = (h: AppHarness) => h.github.requests.filter((r) => r.method !== "GET").length;

const stops = [
  ["/cancel", (h: AppHarness) => h.deliver("issue_comment", commentPayload("/cancel"))],
  ["removing the trigger label", (h: AppHarness) => h.deliver("issues", unlabeledPayload())],
] as const;

for (const mode of ["the local runner", "a BullMQ runner"] as const) {
  describe(`a stop really stops, on ${mode}`, () => {
    for (const [what, stop] of stops) {
      it(`${what} ends the running build within seconds: no further model call, no push, no comment after it`, async () => {
        redis = mode === "a BullMQ runner" ? await startRedis() : undefined;
        app = await startApp({ script, files: projectFiles, configYaml, ...(redis && { env: { REDIS_URL: redis.url } }) });
        app.github.permissions = { Codertocat: "write" };
        expect(await app.deliver("issues", labeledPayload())).toBe(200);
        const h = app;
        const store = (notes = redis ? await RedisRunStore.connect(redis.url) : new FileRunStore(h.stateDir));
        const buildAnswered = async () => (await store.journal(runId)).find((e) => e.event.type === "job.failed" && String(e.event.jobId).includes(":build:"));
        await waitUntil("the generator's model call to hang", () => generatorCalls(h) === 1, 30_000);

        const stoppedAt = Date.now();
        expect(await stop(h)).toBe(200);
        const run = await waitUntil("the run to be cancelled", async () => {
          const r = await store.load(runId);
          return r?.phase === "cancelled" && r.pending.length === 0 ? r : undefined;
        });
        // The job itself ended: its late answer reached the engine, seconds after the stop.
        const late = await waitUntil("the stopped job's answer", buildAnswered, 10_000);
        expect(Date.now() - stoppedAt).toBeLessThan(10_000);
        const writesAfterStop = writes(h);
        await settle(1_000);

        expect(generatorCalls(h)).toBe(1);
        expect(originTip(h)).toBeUndefined();
        expect(writes(h)).toBe(writesAfterStop);
        expect(run.stoppedJobs.some((k) => k.includes("dispatchJob"))).toBe(true);
        expect(late.effects).toEqual([]);
      }, 90_000);
    }
  });
}

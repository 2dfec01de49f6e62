import { z } from "zod";
import { JobSchema } from "./job.js";

/**
 * Side effects the engine asks the shell to perform. Each carries a stable `key`
 * (`<runId>:<kind>:<n>`) and is idempotent: re-running one after a crash finds
 * what the first attempt did instead of doing it twice.
 */
export const EffectSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("loadConfig"), key: z.string() }),
  z.object({ kind: z.literal("upsertProgressComment"), key: z.string(), body: z.string() }),
  z.object({ kind: z.literal("postConfigError"), key: z.string(), body: z.string() }),
  z.object({ kind: z.literal("dispatchJob"), key: z.string(), job: JobSchema }),
  z.object({
    kind: z.literal("openPullRequest"),
    key: z.string(),
    head: z.string(),
    base: z.string(),
    title: z.string(),
    body: z.string(),
  }),
  z.object({
    kind: z.literal("publishGate"),
    key: z.string(),
    headSha: z.string(),
    conclusion: z.enum(["success", "failure", "action_required"]),
    title: z.string(),
    summary: z.string(),
  }),
]);
export type Effect = z.infer<typeof EffectSchema>;
export type EffectKind = Effect["kind"];

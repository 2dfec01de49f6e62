import { z } from "zod";
import { UsageSchema } from "./usage.js";

export const CommandRecordSchema = z.object({
  cmd: z.string(),
  exitCode: z.number().int(),
  ms: z.number().nonnegative(),
});
export type CommandRecord = z.infer<typeof CommandRecordSchema>;

/** What a worker tells the next person, like a colleague would at the end of a shift. */
export const HandoffSchema = z.object({
  completed: z.array(z.string()),
  remaining: z.array(z.string()),
  commands: z.array(CommandRecordSchema),
  issues: z.array(z.string()),
  followedProcedure: z.boolean(),
});
export type Handoff = z.infer<typeof HandoffSchema>;

/** The arguments of a worker's `finish` tool: its own account of the work. */
export const WorkerReportSchema = z.object({
  status: z.enum(["ok", "blocked", "failed"]),
  confidence: z.number().min(0).max(1),
  summary: z.string().min(1),
  handoff: HandoffSchema,
});
export type WorkerReport = z.infer<typeof WorkerReportSchema>;

export const TraceEntrySchema = z.object({
  turn: z.number().int(),
  tool: z.string(),
  ok: z.boolean(),
  note: z.string(),
});
export type TraceEntry = z.infer<typeof TraceEntrySchema>;

/** A worker's report plus what the runner measured: the change, the usage, the tool trace. */
export const ResultSchema = WorkerReportSchema.extend({
  artifact: z.object({
    kind: z.literal("diff"),
    headSha: z.string(),
    diffStat: z.string(),
    filesChanged: z.array(z.string()),
  }),
  usage: z.array(UsageSchema),
  trace: z.array(TraceEntrySchema),
});
export type Result = z.infer<typeof ResultSchema>;

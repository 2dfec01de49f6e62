import { z } from "zod";
import { WorkerReportSchema, type WorkerReport } from "../../domain/index.js";

/** What both CLI adapters share about the worker's own report and the decision trace. */

/**
 * The report's JSON Schema as the CLIs take it: output shape (every field required, no extra
 * keys, which OpenAI's strict structured outputs insist on), without `$schema`.
 */
export function reportJsonSchema(): Record<string, unknown> {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(WorkerReportSchema, { io: "output", unrepresentable: "any" });
  return schema;
}

/** Validates a value the CLI returned as the report; the error names the fields that are wrong. */
export function checkReport(value: unknown): { ok: true; report: WorkerReport } | { ok: false; error: string } {
  const parsed = WorkerReportSchema.safeParse(value);
  return parsed.success ? { ok: true, report: parsed.data } : { ok: false, error: z.prettifyError(parsed.error) };
}

/** Parses the report out of a final text answer: the whole text, or its last fenced JSON block. */
export function reportFromText(text: string): { ok: true; report: WorkerReport } | { ok: false; error: string } {
  const candidates = [text.trim()];
  const fenced = [...text.matchAll(/```(?:json)?\s*\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
  candidates.push(...fenced.reverse());
  let lastError = "the final answer is not JSON";
  for (const candidate of candidates) {
    let value: unknown;
    try {
      value = JSON.parse(candidate);
    } catch {
      continue;
    }
    const checked = checkReport(value);
    if (checked.ok) return checked;
    lastError = checked.error;
  }
  return { ok: false, error: lastError };
}

const NOTE_CHARS = 160;

/** One line for the decision trace. */
export function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > NOTE_CHARS ? `${oneLine.slice(0, NOTE_CHARS - 1)}…` : oneLine;
}

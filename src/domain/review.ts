import { z } from "zod";
import { RepoPathSchema } from "./plan.js";
import { UsageSchema } from "./usage.js";
import { TraceEntrySchema } from "./result.js";

export const SeveritySchema = z.enum(["info", "low", "medium", "high", "critical"]);
export type Severity = z.infer<typeof SeveritySchema>;
export const severityRank: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

export const FindingSchema = z.object({
  file: RepoPathSchema,
  /** A line of the file at the head commit (the right side of the diff). */
  line: z.number().int().positive(),
  severity: SeveritySchema,
  /** Contract assertion ids this finding concerns. */
  assertions: z.array(z.string()).default([]),
  body: z.string().min(1).max(20_000),
});
export type Finding = z.infer<typeof FindingSchema>;

/** The arguments of a reviewer's `finish`: its verdict, findings, and which assertions it checked. */
export const ReviewReportSchema = z.object({
  verdict: z.enum(["approve", "request_changes"]),
  summary: z.string().min(1).max(20_000),
  confidence: z.number().min(0).max(1),
  findings: z.array(FindingSchema).max(100).default([]),
  /** The reviewer's explicit check of each review-kind assertion it looked at. */
  assertionChecks: z
    .array(z.object({ id: z.string(), holds: z.boolean(), evidence: z.string().min(1).max(2000) }))
    .default([]),
});
export type ReviewReport = z.infer<typeof ReviewReportSchema>;

/** A review as the runner hands it back: the report, where each finding can be shown, and what it cost. */
export const ReviewSchema = ReviewReportSchema.extend({
  reviewer: z.string(),
  route: z.string(),
  headSha: z.string(),
  /** Per finding (same order): whether its line is in the diff, so it can be an inline comment. */
  onDiff: z.array(z.boolean()),
  usage: z.array(UsageSchema),
  trace: z.array(TraceEntrySchema),
});
export type Review = z.infer<typeof ReviewSchema>;

/** Test integrity of the head against the base, measured by the runner with git. */
export const IntegritySchema = z.object({
  deletedTests: z.array(z.string()),
  /** `file:line: text` of added lines that skip or focus tests. */
  newSkips: z.array(z.string()),
  testCountBase: z.number().int().nonnegative(),
  testCountHead: z.number().int().nonnegative(),
  /** Changed files matching the protected patterns (default `.github/workflows/**`). */
  protectedTouched: z.array(z.string()),
  /** Files that conflict with the current default branch tip, if it moved. */
  conflicts: z.array(z.string()),
});
export type Integrity = z.infer<typeof IntegritySchema>;

import { z } from "zod";

/** A repo-relative path: no absolute paths, no `..` segments, no backslashes. */
export const RepoPathSchema = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/") && !p.includes("\\") && !p.split("/").includes(".."), {
    message: "must be a path inside the repository (relative, without '..')",
  });

export const AssertionSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, "ids are 1-40 letters, digits, '.', '_' or '-'"),
  text: z.string().min(1),
  check: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("command"), command: z.string().min(1) }),
    z.object({ kind: z.literal("review"), rubric: z.string().min(1) }),
  ]),
});
export type Assertion = z.infer<typeof AssertionSchema>;

export const SubtaskRoleSchema = z.enum(["generate", "test", "review"]);
export type SubtaskRole = z.infer<typeof SubtaskRoleSchema>;

export const SubtaskSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, "ids are 1-40 letters, digits, '.', '_' or '-'"),
  role: SubtaskRoleSchema,
  title: z.string().min(1).max(200),
  brief: z.string().min(1),
  files: z.array(RepoPathSchema).default([]),
  dependsOn: z.array(z.string()).default([]),
  assertions: z.array(z.string()).default([]),
});
export type Subtask = z.infer<typeof SubtaskSchema>;

/** What the planner returns: the work, and what "done" means, written before any code exists. */
export const PlanSchema = z.object({
  summary: z.string().min(1),
  risk: z.enum(["low", "high"]).default("low"),
  subtasks: z.array(SubtaskSchema).min(1),
  contract: z.object({ assertions: z.array(AssertionSchema).min(1) }),
});
export type Plan = z.infer<typeof PlanSchema>;

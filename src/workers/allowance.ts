import { globMatch } from "./glob.js";
import type { RoleName } from "./role-card.js";

/** Where a tester may write when the repo says nothing else. */
export const defaultTestPaths = ["test/**", "tests/**", "__tests__/**", "spec/**", "**/*.test.*", "**/*.spec.*"];

/** Changed files the role was not allowed to change (checked on the commit, after the agent exits). */
export function outsideAllowance(role: RoleName, changed: readonly string[], ownedFiles: readonly string[]): string[] {
  if (role === "planner" || role === "reviewer") return [...changed];
  if (role === "tester") return changed.filter((f) => !defaultTestPaths.some((p) => globMatch(p, f)));
  if (ownedFiles.length === 0) return [];
  return changed.filter((f) => !ownedFiles.some((o) => f === o || f.startsWith(`${o.replace(/\/+$/, "")}/`)));
}

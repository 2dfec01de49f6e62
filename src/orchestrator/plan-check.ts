import type { Plan, Subtask } from "../domain/index.js";

/**
 * Mechanical checks of a plan, before any code is written. Returns every problem found,
 * each phrased so that a planner re-asked with them knows what to change.
 */
export function checkPlan(plan: Plan): string[] {
  const errors: string[] = [];
  const ids = new Set<string>();
  for (const s of plan.subtasks) {
    if (ids.has(s.id)) errors.push(`subtask id "${s.id}" is used twice`);
    ids.add(s.id);
  }
  const assertionIds = new Set<string>();
  for (const a of plan.contract.assertions) {
    if (assertionIds.has(a.id)) errors.push(`assertion id "${a.id}" is used twice`);
    assertionIds.add(a.id);
  }
  for (const s of plan.subtasks) {
    for (const d of s.dependsOn) {
      if (!ids.has(d)) errors.push(`subtask "${s.id}" depends on unknown subtask "${d}"`);
      if (d === s.id) errors.push(`subtask "${s.id}" depends on itself`);
    }
    for (const a of s.assertions) {
      if (!assertionIds.has(a)) errors.push(`subtask "${s.id}" names unknown assertion "${a}"`);
    }
  }
  if (!plan.subtasks.some((s) => s.role === "generate")) errors.push("the plan has no generate subtask");
  const covered = new Set(plan.subtasks.flatMap((s) => s.assertions));
  for (const a of plan.contract.assertions) {
    if (!covered.has(a.id)) errors.push(`assertion "${a.id}" is not covered by any subtask`);
  }
  if (topologicalOrder(plan.subtasks) === undefined) errors.push("the subtask dependencies form a cycle");
  else errors.push(...overlappingSiblings(plan.subtasks));
  return errors;
}

/** Subtasks in an order that respects `dependsOn` (ties keep plan order); undefined on a cycle. */
export function topologicalOrder(subtasks: readonly Subtask[]): Subtask[] | undefined {
  const known = new Set(subtasks.map((s) => s.id));
  const done = new Set<string>();
  const order: Subtask[] = [];
  while (order.length < subtasks.length) {
    const next = subtasks.find(
      (s) => !done.has(s.id) && s.dependsOn.every((d) => done.has(d) || !known.has(d)),
    );
    if (!next) return undefined;
    done.add(next.id);
    order.push(next);
  }
  return order;
}

/** Two writers with no ordering between them may run in parallel, so they must not share files. */
function overlappingSiblings(subtasks: readonly Subtask[]): string[] {
  const byId = new Map(subtasks.map((s) => [s.id, s]));
  const ancestors = (id: string, seen = new Set<string>()): Set<string> => {
    for (const d of byId.get(id)?.dependsOn ?? []) {
      if (!seen.has(d)) {
        seen.add(d);
        ancestors(d, seen);
      }
    }
    return seen;
  };
  const writers = subtasks.filter((s) => s.role !== "review");
  const errors: string[] = [];
  for (let i = 0; i < writers.length; i++) {
    for (let j = i + 1; j < writers.length; j++) {
      const a = writers[i]!;
      const b = writers[j]!;
      if (ancestors(a.id).has(b.id) || ancestors(b.id).has(a.id)) continue;
      const shared = a.files.filter((f) => b.files.some((g) => overlaps(f, g)));
      if (shared.length > 0) {
        errors.push(`subtasks "${a.id}" and "${b.id}" may run in parallel but both own ${shared.join(", ")}`);
      }
    }
  }
  return errors;
}

function overlaps(a: string, b: string): boolean {
  const x = a.replace(/\/+$/, "");
  const y = b.replace(/\/+$/, "");
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
}

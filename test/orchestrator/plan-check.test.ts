import { describe, expect, it } from "vitest";
import { z } from "zod";
import { PlanSchema, type Plan, type Subtask } from "../../src/domain/index.js";
import { checkPlan, topologicalOrder } from "../../src/orchestrator/plan-check.js";

const subtask = (id: string, patch: Partial<Subtask> = {}): Subtask => ({
  id,
  role: "generate",
  title: `Subtask ${id}`,
  brief: `Do ${id}`,
  files: [`src/${id}.ts`],
  dependsOn: [],
  assertions: [],
  ...patch,
});

const assertion = (id: string) => ({ id, text: `assertion ${id}`, check: { kind: "command" as const, command: "npm test" } });

/** impl → tests → review: valid, every assertion covered, writers ordered. */
const valid: Plan = {
  summary: "Add farewell()",
  risk: "low",
  subtasks: [
    subtask("impl", { assertions: ["A1"] }),
    subtask("tests", { role: "test", files: ["test/farewell.test.ts"], dependsOn: ["impl"], assertions: ["A2"] }),
    subtask("review", { role: "review", files: ["src/impl.ts"], dependsOn: ["tests"], assertions: ["A1"] }),
  ],
  contract: { assertions: [assertion("A1"), assertion("A2")] },
};

const withSubtasks = (subtasks: Subtask[], assertions = valid.contract.assertions): Plan => ({ ...valid, subtasks, contract: { assertions } });

describe("checkPlan", () => {
  it("accepts a valid plan with no objection", () => {
    expect(checkPlan(valid)).toEqual([]);
  });

  it("objects to a subtask id used twice", () => {
    const plan = withSubtasks([...valid.subtasks, subtask("impl", { files: ["src/other.ts"], dependsOn: ["review"] })]);
    expect(checkPlan(plan)).toContain('subtask id "impl" is used twice');
  });

  it("objects to an assertion id used twice", () => {
    const plan = withSubtasks(valid.subtasks, [...valid.contract.assertions, assertion("A2")]);
    expect(checkPlan(plan)).toEqual(['assertion id "A2" is used twice']);
  });

  it("objects to a dependency on an unknown subtask", () => {
    const plan = withSubtasks([subtask("impl", { dependsOn: ["ghost"], assertions: ["A1", "A2"] })]);
    expect(checkPlan(plan)).toEqual(['subtask "impl" depends on unknown subtask "ghost"']);
  });

  it("objects to a subtask that depends on itself (which is also a cycle)", () => {
    const plan = withSubtasks([subtask("impl", { dependsOn: ["impl"], assertions: ["A1", "A2"] })]);
    expect(checkPlan(plan)).toEqual(['subtask "impl" depends on itself', "the subtask dependencies form a cycle"]);
  });

  it("objects to a subtask naming an assertion the contract does not have", () => {
    const plan = withSubtasks([subtask("impl", { assertions: ["A1", "A2", "A9"] })]);
    expect(checkPlan(plan)).toEqual(['subtask "impl" names unknown assertion "A9"']);
  });

  it("objects to a plan with no generate subtask", () => {
    const plan = withSubtasks(valid.subtasks.map((s) => ({ ...s, role: s.role === "generate" ? ("test" as const) : s.role })));
    expect(checkPlan(plan)).toEqual(["the plan has no generate subtask"]);
  });

  it("objects to an assertion no subtask covers", () => {
    const plan = withSubtasks(valid.subtasks, [...valid.contract.assertions, assertion("A3")]);
    expect(checkPlan(plan)).toEqual(['assertion "A3" is not covered by any subtask']);
  });

  it("objects to a dependency cycle", () => {
    const plan = withSubtasks([
      subtask("a", { dependsOn: ["c"], assertions: ["A1"] }),
      subtask("b", { dependsOn: ["a"], files: ["src/b.ts"], assertions: ["A2"] }),
      subtask("c", { role: "review", dependsOn: ["b"] }),
    ]);
    expect(checkPlan(plan)).toEqual(["the subtask dependencies form a cycle"]);
  });

  it("objects to writers that may run in parallel owning the same file", () => {
    const plan = withSubtasks([
      subtask("impl", { files: ["src/farewell.ts"], assertions: ["A1"] }),
      subtask("tests", { role: "test", files: ["src/farewell.ts", "test/x.test.ts"], assertions: ["A2"] }),
    ]);
    expect(checkPlan(plan)).toEqual(['subtasks "impl" and "tests" may run in parallel but both own src/farewell.ts']);
  });

  it("objects to a parallel writer owning a directory the other writes into", () => {
    const plan = withSubtasks([
      subtask("impl", { files: ["src/"], assertions: ["A1"] }),
      subtask("helpers", { files: ["src/util/strings.ts"], assertions: ["A2"] }),
    ]);
    expect(checkPlan(plan)).toEqual(['subtasks "impl" and "helpers" may run in parallel but both own src/']);
  });

  it("lets ordered writers, and reviewers, share files; a name prefix is not a directory", () => {
    const plan = withSubtasks([
      subtask("impl", { files: ["src/farewell.ts"], assertions: ["A1"] }),
      subtask("fix", { files: ["src/farewell.ts"], dependsOn: ["impl"] }),
      subtask("look", { role: "review", files: ["src/farewell.ts"] }),
      subtask("other", { files: ["src/farewell.tsx"], assertions: ["A2"], dependsOn: [] }),
    ]);
    // `other` and `impl`/`fix` may run together, but `src/farewell.tsx` is not inside `src/farewell.ts`.
    expect(checkPlan(plan)).toEqual([]);
  });

  it("reports every problem at once, so one re-ask can fix them all", () => {
    const plan = withSubtasks([subtask("t", { role: "test", dependsOn: ["t"] })], [assertion("A1")]);
    expect(checkPlan(plan)).toEqual([
      'subtask "t" depends on itself',
      "the plan has no generate subtask",
      'assertion "A1" is not covered by any subtask',
      "the subtask dependencies form a cycle",
    ]);
  });
});

describe("topologicalOrder", () => {
  it("puts every subtask after its dependencies, keeping plan order among ties", () => {
    const subtasks = [subtask("docs", { dependsOn: ["impl"] }), subtask("lint"), subtask("impl"), subtask("tests", { dependsOn: ["impl", "docs"] })];
    expect(topologicalOrder(subtasks)?.map((s) => s.id)).toEqual(["lint", "impl", "docs", "tests"]);
  });

  it("is undefined on a cycle, and ignores unknown dependencies (checkPlan reports those)", () => {
    expect(topologicalOrder([subtask("a", { dependsOn: ["b"] }), subtask("b", { dependsOn: ["a"] })])).toBeUndefined();
    expect(topologicalOrder([subtask("a", { dependsOn: ["ghost"] })])?.map((s) => s.id)).toEqual(["a"]);
  });
});

describe("PlanSchema", () => {
  /** What the planner is told when its `finish` arguments do not parse (agent-loop uses prettifyError). */
  const objection = (plan: unknown): string => {
    const parsed = PlanSchema.safeParse(plan);
    expect(parsed.success).toBe(false);
    return z.prettifyError(parsed.error!);
  };
  const withFile = (file: string) => ({ ...valid, subtasks: [subtask("impl", { files: [file], assertions: ["A1", "A2"] })] });
  const outside = "must be a path inside the repository (relative, without '..')";

  it("accepts the valid plan and fills defaults", () => {
    const parsed = PlanSchema.parse({ summary: "s", subtasks: [{ id: "a", role: "generate", title: "t", brief: "b" }], contract: { assertions: [assertion("A1")] } });
    expect(parsed.risk).toBe("low");
    expect(parsed.subtasks[0]).toMatchObject({ files: [], dependsOn: [], assertions: [] });
  });

  for (const [what, file] of [
    ["an absolute path", "/etc/passwd"],
    ["a '..' path", "src/../../outside.ts"],
    ["a bare '..'", ".."],
    ["a backslash path", "src\\farewell.ts"],
  ] as const) {
    it(`rejects ${what} with a message naming the field`, () => {
      expect(objection(withFile(file))).toBe(`✖ ${outside}\n  → at subtasks[0].files[0]`);
    });
  }

  it("allows a name that merely contains dots", () => {
    expect(PlanSchema.safeParse(withFile("src/..hidden/a..b.ts")).success).toBe(true);
  });

  it("rejects bad subtask and assertion ids", () => {
    const idRule = "ids are 1-40 letters, digits, '.', '_' or '-'";
    const plan = {
      ...valid,
      subtasks: [subtask("impl; rm -rf /", { assertions: ["A1"] }), subtask("x".repeat(41))],
      contract: { assertions: [{ ...assertion("A 1") }] },
    };
    expect(objection(plan)).toBe(
      [`✖ ${idRule}\n  → at subtasks[0].id`, `✖ ${idRule}\n  → at subtasks[1].id`, `✖ ${idRule}\n  → at contract.assertions[0].id`].join("\n"),
    );
  });

  it("rejects a plan with no subtask or no assertion", () => {
    expect(objection({ ...valid, subtasks: [] })).toContain("→ at subtasks");
    expect(objection({ ...valid, contract: { assertions: [] } })).toContain("→ at contract.assertions");
  });
});

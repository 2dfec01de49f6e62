import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ModelRouteSchema, RuntimeSchema, type Runtime } from "../domain/index.js";
import { FINISH_TOOL, roleAllowance } from "./tools.js";

/**
 * Role cards: `agents/<role>.md`, YAML front matter plus the role's prompt as the body. The
 * orchestration policy lives in these texts; what a role may do lives in code (`roleAllowance`),
 * so a card can narrow a role's tools but never widen them.
 */

export const RoleNameSchema = z.enum(["planner", "generator", "tester", "reviewer"]);
export type RoleName = z.infer<typeof RoleNameSchema>;

const positiveInt = (what: string) =>
  z.number({ error: `expected ${what}` }).int({ error: `expected ${what}` }).positive({ error: `expected ${what}` });

/** The front matter of a card, as written in the file. */
export const RoleCardFrontMatterSchema = z
  .object({
    /** Which worker this card drives. */
    role: z.enum(RoleNameSchema.options, { error: `expected one of ${RoleNameSchema.options.join(", ")}` }),
    /** The tools offered to the model; each must be allowed for the role in code. */
    tools: z.array(z.string({ error: "expected a list of tool names" }), { error: "expected a list of tool names" }),
    /** Default model route, `<provider>/<model>`; a repo may override it in `.github/shopfloor.yml`. */
    model: ModelRouteSchema,
    /** Hard cap on model turns: the loop guardrail against an agent that never finishes. */
    max_turns: positiveInt("a positive integer").max(500, { error: "expected at most 500" }),
    /** Wall-clock limit for one job of this role, in seconds. */
    timeout: positiveInt("a positive number of seconds").max(24 * 3600, { error: "expected at most 86400 seconds" }),
    /** What the `finish` tool returns: the planner a `plan`, the reviewer a `review`, every other role a `result`. */
    output: z.enum(["plan", "result", "review"], { error: 'expected "plan", "result" or "review"' }),
    /** Which agent runs the role when the repo does not say: `builtin` (default), `claude-code` or `codex`. */
    runtime: RuntimeSchema.optional(),
  })
  .strict();

/** What each role's `finish` returns; a card must say the same, so a mixed-up card fails at load. */
const outputOf: Record<RoleName, RoleCard["output"]> = { planner: "plan", reviewer: "review", generator: "result", tester: "result" };

export interface RoleCard {
  role: RoleName;
  tools: string[];
  model: string;
  maxTurns: number;
  timeoutMs: number;
  output: "plan" | "result" | "review";
  runtime: Runtime;
  prompt: string;
  /** Where the card came from, for error messages and the decision trace. */
  file: string;
}

export type RoleCards = ReadonlyMap<RoleName, RoleCard>;

/** Reads every `*.md` card in `dir` (README.md aside); throws naming the file and field on any defect. */
export async function loadRoleCards(dir: string): Promise<RoleCards> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".md") && n.toLowerCase() !== "readme.md").sort();
  const cards = new Map<RoleName, RoleCard>();
  for (const name of names) {
    const file = path.join(dir, name);
    const card = parseRoleCard(file, await readFile(file, "utf8"));
    const previous = cards.get(card.role);
    if (previous) throw new Error(`${file}: role: "${card.role}" is already defined by ${previous.file}`);
    cards.set(card.role, card);
  }
  const missing = RoleNameSchema.options.filter((r) => !cards.has(r));
  if (missing.length > 0) throw new Error(`${dir}: no role card for ${missing.join(", ")}`);
  return cards;
}

/** Parses one card's text; `file` only names it in errors. */
export function parseRoleCard(file: string, text: string): RoleCard {
  const match = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/.exec(text);
  if (!match) throw new Error(`${file}: front matter: expected the file to start with a '---' block`);
  let data: unknown;
  try {
    data = parseYaml(match[1] ?? "");
  } catch (error) {
    throw new Error(`${file}: front matter: ${(error as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Error(`${file}: front matter: expected fields like 'role: generator'`);
  }
  const parsed = RoleCardFrontMatterSchema.safeParse(data);
  if (!parsed.success) throw new Error(`${file}: ${describeIssue(parsed.error.issues[0], data)}`);
  const fm = parsed.data;

  const allowed = [...roleAllowance[fm.role], FINISH_TOOL];
  for (const tool of fm.tools) {
    if (!allowed.includes(tool)) {
      throw new Error(`${file}: tools: "${tool}" is not allowed for the ${fm.role} role (allowed: ${allowed.join(", ")})`);
    }
  }
  const duplicate = fm.tools.find((t, i) => fm.tools.indexOf(t) !== i);
  if (duplicate) throw new Error(`${file}: tools: "${duplicate}" is listed twice`);
  const expectedOutput = outputOf[fm.role];
  if (fm.output !== expectedOutput) {
    throw new Error(`${file}: output: the ${fm.role} role returns a "${expectedOutput}", not a "${fm.output}"`);
  }
  const prompt = (match[2] ?? "").trim();
  if (!prompt) throw new Error(`${file}: body: the role's prompt is empty`);

  return {
    role: fm.role,
    tools: fm.tools,
    model: fm.model,
    maxTurns: fm.max_turns,
    timeoutMs: fm.timeout * 1000,
    runtime: fm.runtime ?? "builtin",
    output: fm.output,
    prompt,
    file,
  };
}

function describeIssue(issue: z.core.$ZodIssue | undefined, data: object): string {
  if (!issue) return "front matter: invalid";
  if (issue.code === "unrecognized_keys") {
    return `${issue.keys.join(", ")}: unknown field (expected ${Object.keys(RoleCardFrontMatterSchema.shape).join(", ")})`;
  }
  const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "front matter";
  const key = issue.path[0];
  const missing = issue.path.length === 1 && typeof key === "string" && !(key in data);
  return `${field}: ${missing ? "is required" : issue.message}`;
}

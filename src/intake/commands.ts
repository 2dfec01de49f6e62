import { sanitizeUntrusted } from "../domain/untrusted.js";

/**
 * Slash commands in issue and PR comments. Pure: the handler decides who may use them.
 *
 * A command counts only where a reader sees it as one: at the start of a line of the rendered
 * comment. Lines in fenced or indented code, in block quotes and in HTML comments are text
 * about a command (a quoted reply, a pasted log, the help itself), never a command.
 */

export const commandNames = ["retry", "escalate", "approve", "cancel", "status", "help"] as const;
export type CommandName = (typeof commandNames)[number];

export interface ParsedCommand {
  command: CommandName;
  /** The rest of the line after the command (and its flags), trimmed, at most `maxNoteLength`. */
  note: string;
  /** `/retry --model <route>`: the route for the next attempt. */
  model?: string;
  /** `/retry --budget <usd>`: the run's dollar budget from now on. */
  budgetUsd?: number;
  /** Why a flag was not understood; the command must not run with a guessed value. */
  error?: string;
}

/** A note is a hint for a brief, not a document; longer text is cut. */
export const maxNoteLength = 2000;
/** A budget raise past this is more likely a typo than a decision. */
export { maxBudgetUsd } from "../domain/index.js";
import { maxBudgetUsd } from "../domain/index.js";
/** Same shape as a model route in `.github/shopfloor.yml`: `<provider>/<model>`. */
const ROUTE = /^[a-z][a-z0-9-]*\/\S+$/;
const COMMAND = new RegExp(`^ {0,3}\\/(${commandNames.join("|")})(?=\\s|$)(.*)$`, "i");
const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const QUOTE = /^ {0,3}>/;

export { helpText } from "../domain/index.js";

/** Every command line in the comment, in order. */
export function parseCommands(body: string): ParsedCommand[] {
  const commands: ParsedCommand[] = [];
  for (const line of visibleLines(sanitizeUntrusted(body))) {
    const m = COMMAND.exec(line);
    if (m) commands.push(parseCommand(m[1]!.toLowerCase() as CommandName, m[2]!));
  }
  return commands;
}

/** The one command a comment carries: the first. */
export function firstCommand(body: string): ParsedCommand | undefined {
  return parseCommands(body)[0];
}

/**
 * The lines that render as ordinary text at the top level: not in a fenced code block, not in
 * a block quote. A line right after a quoted one (no blank line between) is a lazy
 * continuation of the quote in Markdown and is skipped too. Indented code needs no rule: its
 * lines start with four spaces or a tab, which a command line never does.
 */
function visibleLines(text: string): string[] {
  const visible: string[] = [];
  let fence: { char: string; length: number } | undefined;
  let inQuote = false;
  for (const line of text.split("\n")) {
    if (fence) {
      const close = FENCE_CLOSE.exec(line);
      if (close && close[1]![0] === fence.char && close[1]!.length >= fence.length) fence = undefined;
      continue;
    }
    if (line.trim() === "") {
      inQuote = false;
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    // A backtick fence's info string cannot hold a backtick (CommonMark), else it is inline code.
    if (open && !(open[1]![0] === "`" && open[2]!.includes("`"))) {
      fence = { char: open[1]![0]!, length: open[1]!.length };
      inQuote = false;
      continue;
    }
    if (QUOTE.test(line)) {
      inQuote = true;
      continue;
    }
    if (inQuote) continue;
    visible.push(line);
  }
  return visible;
}

function parseCommand(command: CommandName, rest: string): ParsedCommand {
  if (command !== "retry") return { command, note: clip(rest) };
  const parsed: ParsedCommand = { command, note: "" };
  const words = rest.split(/\s+/).filter((w) => w !== "");
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const flag = /^--(model|budget)(?:=(.*))?$/i.exec(words[i]!);
    if (!flag) {
      kept.push(words[i]!);
      continue;
    }
    let value = flag[2];
    if (value === undefined && words[i + 1] !== undefined && !words[i + 1]!.startsWith("--")) value = words[++i];
    const problem = flag[1]!.toLowerCase() === "model" ? applyModel(parsed, value) : applyBudget(parsed, value);
    parsed.error ??= problem;
  }
  parsed.note = clip(kept.join(" "));
  return parsed;
}

function applyModel(parsed: ParsedCommand, value: string | undefined): string | undefined {
  if (!value) return "--model needs a route such as openai/gpt-5";
  if (!ROUTE.test(value)) return `--model ${value.slice(0, 100)} is not a route: expected <provider>/<model>, such as openai/gpt-5`;
  parsed.model = value;
  return undefined;
}

function applyBudget(parsed: ParsedCommand, value: string | undefined): string | undefined {
  const usd = value !== undefined && /^\$?(?:\d+(?:\.\d+)?|\.\d+)$/.test(value) ? Number(value.replace(/^\$/, "")) : NaN;
  if (!(usd > 0)) return "--budget needs a positive number of dollars, such as --budget 25";
  if (usd > maxBudgetUsd) return `--budget is at most ${maxBudgetUsd} dollars`;
  parsed.budgetUsd = usd;
  return undefined;
}

/** Trimmed and cut to `maxNoteLength` without splitting a surrogate pair. */
function clip(text: string): string {
  let note = text.trim();
  if (note.length <= maxNoteLength) return note;
  note = note.slice(0, maxNoteLength);
  if (/[\uD800-\uDBFF]$/.test(note)) note = note.slice(0, -1);
  return note.trimEnd();
}

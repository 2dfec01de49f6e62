import { FINISH_TOOL } from "../workers/tools.js";
import type { ReplyTurn, ScriptedUsage } from "./model-server/reply.js";

/** What else a scripted turn may carry besides its tool call. */
export interface TurnOptions {
  /** Text the model says before the call. */
  text?: string;
  /** Tokens the provider reports for the turn (defaults: 100 in, 20 out, 0 cached). */
  usage?: ScriptedUsage;
  /** Answer only after this many milliseconds. */
  delayMs?: number;
  /** The call's id; by default one unique per request. */
  id?: string;
}

/** A turn in which the model calls one tool, e.g. `toolCall("read_file", { path: "src/calc.js" })`. */
export function toolCall(name: string, args: unknown, options: TurnOptions = {}): ReplyTurn {
  const { id, ...rest } = options;
  return { ...rest, toolCalls: [{ name, args, ...(id !== undefined && { id }) }] };
}

/**
 * The turn that ends an agent: `finish` with the role's output (a plan for the planner, a review
 * for a reviewer, a report for the others), which Shopfloor validates as it would a real model's.
 */
export function finish(output: unknown, options: TurnOptions = {}): ReplyTurn {
  return toolCall(FINISH_TOOL, output, options);
}

import type { Assertion } from "./plan.js";
import type { Run } from "./run.js";

/**
 * What proves a contract assertion, read once for the gate, the progress comment and Mission
 * Control: a command assertion by the scrutiny command that ran it, any other by what each
 * reviewer said of it.
 */
export interface AssertionEvidence {
  state: "pass" | "fail" | "pending";
  /** The evidence in full, a line each (the command's result, each reviewer's words). */
  evidence: string[];
  /** The same in a few words, for the gate's one-line summary. */
  why: string;
}

export function assertionEvidence(run: Run, a: Assertion): AssertionEvidence {
  if (a.check.kind === "command") {
    const cmd = a.check.command;
    const ran = (run.scrutiny ?? []).find((c) => c.cmd === cmd);
    // Scrutiny has run and this command was not among its commands: nothing will ever prove it.
    if (!ran) return { state: run.scrutiny ? "fail" : "pending", evidence: [run.scrutiny ? "the command was not run" : "not run yet"], why: `\`${cmd}\` not run` };
    return { state: ran.exitCode === 0 ? "pass" : "fail", evidence: [commandResult(ran)], why: ran.exitCode === 0 ? "command passed" : `\`${cmd}\` exit ${ran.exitCode}` };
  }
  const checks = run.reviews.flatMap((r) => r.assertionChecks.filter((c) => c.id === a.id).map((c) => ({ ...c, route: r.route })));
  const evidence = checks.map((c) => `${c.route}: ${c.holds ? "holds" : "does not hold"} — ${c.evidence}`);
  if (checks.some((c) => !c.holds)) return { state: "fail", evidence, why: "a reviewer found it does not hold" };
  if (checks.length === 0) return { state: reviewsComplete(run) ? "fail" : "pending", evidence: ["no reviewer has checked it yet"], why: "no reviewer checked it" };
  return { state: "pass", evidence, why: "reviewer checked" };
}

/** A command's result in words: its exit and time, or why it did not run. */
export function commandResult(c: { exitCode: number; ms: number; timedOut: boolean; skipped?: string; restored?: boolean }): string {
  if (c.skipped) return `not run: ${c.skipped}`;
  if (c.restored) return "restored from the dependency cache";
  const seconds = (c.ms / 1000).toFixed(1);
  return c.timedOut ? `timed out after ${seconds} s` : `exit ${c.exitCode} in ${seconds} s`;
}

/** Every reviewer the config asks for has answered this round: an unchecked assertion stays unchecked. */
export function reviewsComplete(run: Run): boolean {
  const wanted = run.config?.review.reviewers.length ?? 0;
  return run.reviewRound > 0 && run.reviews.length >= wanted;
}

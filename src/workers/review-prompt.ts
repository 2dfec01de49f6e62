import { quoteUntrusted, sanitizeUntrusted, type Assertion, type Finding, type Plan } from "../domain/index.js";
import { parseDiff } from "../workspace/diff.js";

/**
 * The task of a reviewer: the contract, the list of changed files, the repo's conventions and
 * the diff. The diff and the conventions are repo text, quoted as untrusted data; plan text was
 * written by the planner after reading untrusted data, so it is sanitized.
 */

/** Beyond this the diff is cut: a reviewer reads the rest with its tools, and input tokens cost. */
export const REVIEW_DIFF_MAX_BYTES = 150 * 1024;

/** What an earlier round of this review found, so the reviewer can check each was addressed. */
export interface PriorRound {
  round: number;
  findings: readonly Finding[];
}

export function reviewTask(plan: Plan, diffText: string, conventions?: string, prior?: PriorRound): string {
  const files = parseDiff(diffText);
  const reviewChecks = plan.contract.assertions.filter((a) => a.check.kind === "review");
  const parts = [
    "Review the change below against the plan and its validation contract.",
    section("Plan summary", clean(plan.summary)),
    section("The validation contract (what \"done\" means)", assertionList(plan.contract.assertions)),
    section(
      "Assertions you must check explicitly",
      reviewChecks.length > 0
        ? `${reviewChecks.map((a) => `- ${clean(a.id)}`).join("\n")}\n\nFor each, add an entry to \`assertionChecks\` saying whether it holds, with your evidence.`
        : "(none are checked by review; Shopfloor runs the command checks. Still report what you see.)",
    ),
    section(
      "Files the change touches (findings may name only these)",
      files.length > 0
        ? files.map((f) => `- ${clean(f.path)} (${f.status}${f.oldPath ? ` from ${clean(f.oldPath)}` : ""}${f.binary ? ", binary" : ""})`).join("\n")
        : "(the diff is empty)",
    ),
  ];
  if (conventions?.trim()) parts.push(quoteUntrusted("the repository's conventions (AGENTS.md)", conventions));
  if (prior && prior.findings.length > 0) {
    parts.push(
      section(
        `Findings of round ${prior.round} (check whether each was addressed)`,
        prior.findings.map((f) => `- ${clean(f.file)}:${f.line} [${f.severity}] ${clean(firstLine(f.body))}`).join("\n"),
      ),
    );
  }
  const { text, cut } = cutDiff(diffText);
  parts.push(quoteUntrusted("the diff of the change (git diff, base → head)", text || "(empty)"));
  if (cut) {
    parts.push(
      `Note: the diff is ${kb(Buffer.byteLength(diffText, "utf8"))} KB; only its first ${kb(REVIEW_DIFF_MAX_BYTES)} KB is shown. ` +
        "Read the remaining changed files listed above with the tools before you judge them.",
    );
  }
  parts.push(
    "Each finding names a file from the list above and a line of that file at the head commit (the right side of the diff). " +
      "When you are done, call `finish` with your verdict, summary, confidence, findings and assertion checks.",
  );
  return parts.join("\n\n");
}

/** The diff up to the byte limit, cut at a line end. */
function cutDiff(diffText: string): { text: string; cut: boolean } {
  const bytes = Buffer.from(diffText, "utf8");
  if (bytes.length <= REVIEW_DIFF_MAX_BYTES) return { text: diffText, cut: false };
  const head = bytes.subarray(0, REVIEW_DIFF_MAX_BYTES).toString("utf8");
  const end = head.lastIndexOf("\n");
  return { text: `${end > 0 ? head.slice(0, end) : head}\n[… diff cut here …]`, cut: true };
}

function kb(bytes: number): number {
  return Math.round(bytes / 1024);
}

function section(heading: string, body: string): string {
  return `## ${heading}\n${body}`;
}

function assertionList(assertions: readonly Assertion[]): string {
  return assertions
    .map((a) => {
      const check = a.check.kind === "command" ? `command: \`${clean(a.check.command)}\`` : `review: ${clean(a.check.rubric)}`;
      return `- ${clean(a.id)}: ${clean(a.text)} (${check})`;
    })
    .join("\n");
}

function firstLine(text: string): string {
  const line = text.trim().split("\n", 1)[0] ?? "";
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

function clean(text: string): string {
  return sanitizeUntrusted(text);
}

import { quoteUntrusted, sanitizeUntrusted, type Assertion, type Plan, type Subtask } from "../domain/index.js";

/**
 * The task text each worker starts from. The role card is the system prompt; this is the job.
 * Issue text and repo text arrive quoted as untrusted data. Plan text was written by the planner
 * after reading that data, so it is sanitized too, though it is the task itself.
 */

export interface IssueText {
  number: number;
  title: string;
  body?: string;
}

export function plannerTask(issue: { number: number; title: string; body: string }, repoContext?: string): string {
  const parts = [
    `Plan the work that resolves issue #${issue.number} of this repository.`,
    quoteUntrusted(`the title of issue #${issue.number}`, issue.title),
    quoteUntrusted(`the body of issue #${issue.number}`, issue.body.trim() ? issue.body : "(empty)"),
  ];
  if (repoContext?.trim()) parts.push(quoteUntrusted("files of the repository", repoContext));
  parts.push("Read what you need with the tools, then call `finish` with the plan.");
  return parts.join("\n\n");
}

/**
 * The task of one build subtask. A `generate` (or `review`) subtask sees its brief, its files,
 * the assertions it covers and the outline of the plan. A `test` subtask sees the whole contract
 * and its own brief only: tests written from the contract, not from how others build it.
 */
export function builderTask(subtask: Subtask, plan: Plan, issue: IssueText): string {
  const covered = plan.contract.assertions.filter((a) => subtask.assertions.includes(a.id));
  const parts = [
    `You are working on subtask "${clean(subtask.id)}" (${subtask.role}) of a plan for issue #${issue.number}.`,
    quoteUntrusted(`the title of issue #${issue.number}`, issue.title),
  ];
  if (subtask.role === "test") {
    parts.push(
      section("Your brief", `${clean(subtask.title)}\n\n${clean(subtask.brief)}`),
      section("The validation contract (what \"done\" means)", assertionList(plan.contract.assertions)),
      section(
        "Assertions your tests must cover",
        covered.length > 0 ? covered.map((a) => `- ${clean(a.id)}`).join("\n") : "- all of the contract",
      ),
      section("Files you may write", fileList(subtask.files, "files under the repository's test paths")),
      "Write tests from the contract alone; do not rely on how the implementation is built. Run them, then call `finish`.",
    );
  } else {
    const others = plan.subtasks.filter((s) => s.id !== subtask.id);
    parts.push(
      section("Plan summary", clean(plan.summary)),
      section("Your brief", `${clean(subtask.title)}\n\n${clean(subtask.brief)}`),
      section("Files you own (the only files you may change)", fileList(subtask.files, "any file in the repository")),
      section("Assertions your work must satisfy", covered.length > 0 ? assertionList(covered) : "(none assigned)"),
    );
    if (others.length > 0) {
      parts.push(
        section(
          "Other subtasks (owned by other workers; do not do their work)",
          others.map((s) => `- ${clean(s.id)} (${s.role}): ${clean(s.title)}${s.files.length ? ` [${s.files.join(", ")}]` : ""}`).join("\n"),
        ),
      );
    }
    parts.push(
      subtask.role === "review"
        ? "Check the work against the assertions above, then call `finish` with your findings."
        : "Implement the brief, run the relevant checks, then call `finish` with an honest handoff.",
    );
  }
  return parts.join("\n\n");
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

function fileList(files: readonly string[], whenEmpty: string): string {
  return files.length > 0 ? files.map((f) => `- ${clean(f)}`).join("\n") : `(${whenEmpty})`;
}

function clean(text: string): string {
  return sanitizeUntrusted(text);
}

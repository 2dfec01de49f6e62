/** GitHub's limit on an issue title. */
const maxTitle = 256;

/**
 * The task as an issue: the first non-empty line is the title (a Markdown heading's `#`s
 * dropped), the rest the body. Undefined when there is no text at all.
 */
export function issueOf(text: string): { title: string; body: string } | undefined {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== "");
  if (first < 0) return undefined;
  const title = lines[first]!.trim().replace(/^#+\s*/, "").slice(0, maxTitle);
  if (title === "") return undefined;
  return { title, body: lines.slice(first + 1).join("\n").trim() };
}

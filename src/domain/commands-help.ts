/** The most `/retry --budget` may set, in dollars. */
export const maxBudgetUsd = 1000;

/** The `/help` answer: one text, used where commands are parsed and where they are answered. */
export const helpText = [
  "Shopfloor commands (people with write access; put the command at the start of its own line, outside quotes and code):",
  "",
  "- `/retry [note]` — resume from the failed step; the note goes into the next brief.",
  "  - `--model <provider>/<model>` — use this model route for the next attempt, e.g. `--model openai/gpt-5`.",
  `  - \`--budget <usd>\` — set the run's dollar budget from now on (positive, at most ${maxBudgetUsd}), e.g. \`--budget 25\`.`,
  "- `/escalate [reason]` — stop the run and hand it to a person with the full handoff.",
  "- `/approve` — approve the plan that waits for approval.",
  "- `/cancel` — stop the run; nothing more is built or posted.",
  "- `/status` — show where the run is and what it has spent.",
  "- `/help` — show this list.",
  "",
  "Only the first command in a comment is acted on. Edited comments are not read again: post a new comment.",
].join("\n");

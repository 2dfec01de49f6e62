import { parseArgs } from "node:util";

export interface RunArgs {
  /** The repository's directory, as typed (relative to the working directory). */
  repo: string;
  /** The task as text: its first line is the title. */
  task?: string;
  /** A file holding the task: first line the title, the rest the body. */
  issueFile?: string;
  /** Pick up the unfinished run in this repository instead of starting one. */
  resume: boolean;
  /** Approve a plan that waits for approval (the person at the terminal is the approver). */
  approve: boolean;
  /** Also push the branch and open the draft PR and its gate on GitHub (GITHUB_TOKEN). */
  pr: boolean;
  /** The branch to start from; the checked-out one when absent. */
  base?: string;
}

export const runUsage = `run [--repo <dir>] "<task>" | --issue-file <file> [--base <branch>] [--pr] [--approve]
  run [--repo <dir>] --resume [--approve] [--pr]
          the whole factory on a local git repository, no App: plan, build in worktrees, run the
          repo's commands in the sandbox, review, and the gate. The task's first line is the title.
          Result: a branch shopfloor/<n>-<slug> in the repo and a Markdown report (path printed);
          state lives in the repo's .git/shopfloor. Exit 0 only when the gate concludes success.
          Ctrl-C stops cleanly; --resume picks the run up. --approve approves a plan that waits for
          approval. --pr also pushes the branch and opens the draft PR with its gate on GitHub
          (GITHUB_TOKEN, the repo's GitHub remote). Model keys as for serve (ANTHROPIC_API_KEY, …).`;

/** The arguments of `shopfloor run`, or what is wrong with them. */
export function parseRunArgs(argv: string[]): RunArgs | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        repo: { type: "string" },
        "issue-file": { type: "string" },
        base: { type: "string" },
        resume: { type: "boolean" },
        approve: { type: "boolean" },
        pr: { type: "boolean" },
      },
    });
  } catch (error) {
    return (error as Error).message;
  }
  const { values, positionals } = parsed;
  const task = positionals.join(" ").trim();
  const args: RunArgs = {
    repo: values.repo ?? ".",
    resume: values.resume === true,
    approve: values.approve === true,
    pr: values.pr === true,
    ...(values.base !== undefined && { base: values.base }),
    ...(task !== "" && { task }),
    ...(values["issue-file"] !== undefined && { issueFile: values["issue-file"] }),
  };
  if (args.resume && (args.task !== undefined || args.issueFile !== undefined)) return "--resume picks up the unfinished run: give no new task with it";
  if (args.resume && args.base !== undefined) return "--resume keeps the run's own base branch: --base goes with a new task";
  if (args.task !== undefined && args.issueFile !== undefined) return "give the task as text or as --issue-file, not both";
  if (!args.resume && args.task === undefined && args.issueFile === undefined) return 'no task: give it as text ("Add divide(a, b) …") or --issue-file <file>';
  return args;
}

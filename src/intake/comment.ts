import type { Context } from "probot";
import type { Event } from "../domain/index.js";
import { canWrite } from "../github/permissions.js";
import { firstCommand } from "./commands.js";

export interface CommentIntakeDeps {
  /** Persist the event under its delivery id; false when this delivery was seen before. */
  persist(deliveryId: string, event: Event): Promise<boolean>;
  /** Tell the engine there is something in the inbox; must not wait for the run. */
  wake(): void;
  /**
   * The run an issue or a Shopfloor PR belongs to, by the run's issue number; undefined when none.
   * Which it is comes from the payload: a run's own number is always an issue (only issues carry
   * the trigger label) and a PR is found by the number it was opened as, so one lookup answers.
   */
  isRunIssue(owner: string, repo: string, number: number, kind: "issue" | "pull request"): Promise<{ runIssue: number } | undefined>;
}

/**
 * `issue_comment.created` → `command.received` (or `command.refused`). Only verifies, dedupes
 * and persists; the engine answers. Only `.created` is wired: an edited comment is never read
 * again, so editing an old comment cannot replay or change a command after the fact.
 */
export async function intakeComment(context: Context<"issue_comment.created">, deps: CommentIntakeDeps): Promise<void> {
  const { payload } = context;
  const { owner, repo } = context.repo();
  const number = payload.issue.number;
  const sender = payload.sender.login;
  // Most comments are not for Shopfloor and GitHub waits for the answer: their lines carry the
  // delivery's fields, and a child logger (which serialises them at once) is made only for a run's.
  const where = { deliveryId: context.id, repo: `${owner}/${repo}`, issue: number };
  if (payload.sender.type === "Bot" || payload.comment.performed_via_github_app) {
    context.log.debug(where, "ignored: the comment is from a bot or an app");
    return;
  }
  const parsed = firstCommand(payload.comment.body ?? "");
  if (!parsed) {
    context.log.debug(where, "ignored: no command in the comment");
    return;
  }
  if (!payload.installation) {
    context.log.warn(where, "ignored: the delivery has no installation");
    return;
  }
  const run = await deps.isRunIssue(owner, repo, number, payload.issue.pull_request ? "pull request" : "issue");
  if (!run) {
    context.log.debug({ ...where, command: parsed.command }, "ignored: no Shopfloor run on this issue");
    return;
  }
  const log = context.log.child(where);
  const runId = `${owner}/${repo}#${run.runIssue}`;
  if (payload.issue.pull_request && (await fromFork(context, owner, repo, number))) {
    log.info({ runId, command: parsed.command }, "ignored: the pull request comes from a fork");
    return;
  }
  const at = new Date().toISOString();
  if (!(await canWrite(context.octokit, { owner, repo }, sender))) {
    await record(context, deps, log, { type: "command.refused", runId, at, by: sender, command: parsed.command, issueNumber: number });
    return;
  }
  // A malformed flag is persisted with its error: the engine answers it instead of acting on it,
  // since running `/retry --budget lots` with the old budget would do what the person did not ask.
  await record(context, deps, log, {
    type: "command.received",
    runId,
    at,
    command: parsed.command,
    note: parsed.note,
    ...(parsed.model !== undefined && { model: parsed.model }),
    ...(parsed.budgetUsd !== undefined && { budgetUsd: parsed.budgetUsd }),
    by: sender,
    source: "comment",
    commentId: payload.comment.id,
    issueNumber: number,
    ...(parsed.error !== undefined && { error: parsed.error }),
  });
}

/** The comment event does not say where a PR's head lives; the PR does. A deleted fork counts as a fork. */
async function fromFork(context: Context<"issue_comment.created">, owner: string, repo: string, number: number): Promise<boolean> {
  const { data } = await context.octokit.rest.pulls.get({ owner, repo, pull_number: number });
  return data.head.repo?.full_name !== data.base.repo.full_name;
}

async function record(
  context: Context<"issue_comment.created">,
  deps: CommentIntakeDeps,
  log: Context["log"],
  event: Extract<Event, { type: "command.received" | "command.refused" }>,
): Promise<void> {
  if (!(await deps.persist(context.id, event))) {
    log.info({ runId: event.runId }, "ignored: this delivery was already received");
    return;
  }
  log.info({ runId: event.runId, by: event.by, command: event.command }, event.type === "command.refused" ? "command refused: no write access" : "command received");
  deps.wake();
}

import { randomUUID } from "node:crypto";
import type { Event } from "../domain/index.js";
import type { InstallationOctokit } from "../github/octokit.js";
import { canWrite } from "../github/permissions.js";
import { firstCommand } from "./commands.js";

/** What a person may do to a run from Mission Control: the commands that steer, not `/status` or `/help`. */
export const missionControlActions = ["retry", "approve", "escalate", "cancel"] as const;
export type MissionControlAction = (typeof missionControlActions)[number];

export interface MissionControlRequest {
  runId: string;
  owner: string;
  repo: string;
  /** The signed-in person's login, as GitHub told the sign-in. */
  by: string;
  action: string;
  note?: string;
  /** Retry only: another model route, and a new dollar budget (form text, checked like the comment flags). */
  model?: string;
  budget?: string;
}

export type MissionControlOutcome = { ok: true; text: string } | { ok: false; status: 400 | 403 | 503; text: string };

export interface MissionControlIntakeDeps {
  persist(deliveryId: string, event: Event): Promise<boolean>;
  wake(): void;
  now?: () => Date;
}

/**
 * An action from Mission Control → `command.received` (or `command.refused`), by the same path
 * as a comment command: the person's write access is asked live, the event goes through the
 * inbox into the run's journal, and the engine answers on the issue. The form's fields are read
 * as a comment's command line would be, so a budget or route is checked by the same rules.
 */
export async function intakeMissionControl(octokit: InstallationOctokit, request: MissionControlRequest, deps: MissionControlIntakeDeps): Promise<MissionControlOutcome> {
  if (!isAction(request.action)) return { ok: false, status: 400, text: `"${request.action.slice(0, 40)}" is not an action: use retry, approve, escalate or cancel.` };
  const line = [
    `/${request.action}`,
    request.action === "retry" && request.model?.trim() ? `--model ${request.model.trim()}` : "",
    request.action === "retry" && request.budget?.trim() ? `--budget ${request.budget.trim()}` : "",
    // A note is one line of text, like the rest of a command line.
    (request.note ?? "").replace(/\s+/g, " ").trim(),
  ]
    .filter(Boolean)
    .join(" ");
  const parsed = firstCommand(line);
  if (!parsed || parsed.command !== request.action) return { ok: false, status: 400, text: "the note could not be read as text" };
  if (parsed.error) return { ok: false, status: 400, text: parsed.error };
  const at = (deps.now?.() ?? new Date()).toISOString();
  const deliveryId = `mission-control:${randomUUID()}`;
  if (!(await canWrite(octokit, { owner: request.owner, repo: request.repo }, request.by))) {
    await deps.persist(deliveryId, { type: "command.refused", runId: request.runId, at, by: request.by, command: parsed.command });
    deps.wake();
    return { ok: false, status: 403, text: `@${request.by} needs write access to ${request.owner}/${request.repo} to ${request.action} this run.` };
  }
  await deps.persist(deliveryId, {
    type: "command.received",
    runId: request.runId,
    at,
    command: parsed.command,
    note: parsed.note,
    ...(parsed.model !== undefined && { model: parsed.model }),
    ...(parsed.budgetUsd !== undefined && { budgetUsd: parsed.budgetUsd }),
    by: request.by,
    source: "mission-control",
  });
  deps.wake();
  return { ok: true, text: `${request.action} sent; the run answers on the issue.` };
}

function isAction(action: string): action is MissionControlAction {
  return (missionControlActions as readonly string[]).includes(action);
}

import type { Context } from "probot";
import type { Event } from "../domain/index.js";
import { canWrite } from "../github/permissions.js";
import { gateCheckName } from "../github/checks.js";

export interface ButtonIntakeDeps {
  /** Persist the event under its delivery id; false when this delivery was seen before. */
  persist(deliveryId: string, event: Event): Promise<boolean>;
  /** Tell the engine there is something in the inbox; must not wait for the run. */
  wake(): void;
  /** This app's id: only buttons on our own gate check count. Undefined means none can be trusted. */
  appId: number | undefined;
}

const buttons = ["retry", "escalate"] as const;
type Button = (typeof buttons)[number];

/**
 * `check_run.requested_action` on the gate check → `command.received` (or `command.refused`).
 * Anyone who can see the PR can click a button: the clicker's live permission decides.
 */
export async function intakeButton(context: Context<"check_run.requested_action">, deps: ButtonIntakeDeps): Promise<void> {
  const { payload } = context;
  const { owner, repo } = context.repo();
  const checkRun = payload.check_run;
  const sender = payload.sender.login;
  const log = context.log.child({ deliveryId: context.id, repo: `${owner}/${repo}`, checkRunId: checkRun.id });
  if (deps.appId === undefined || checkRun.app?.id !== deps.appId || checkRun.name !== gateCheckName) {
    log.debug({ app: checkRun.app?.id, name: checkRun.name }, "ignored: not our gate check");
    return;
  }
  if (payload.sender.type === "Bot") {
    log.debug("ignored: the sender is a bot");
    return;
  }
  const identifier = payload.requested_action?.identifier;
  if (!isButton(identifier)) {
    log.debug({ identifier }, "ignored: not a Shopfloor button");
    return;
  }
  // The gate check carries its run id; a check moved or copied to another repo is not ours to act on.
  const m = /^([^/#\s]+)\/([^/#\s]+)#(\d+)$/.exec(checkRun.external_id ?? "");
  if (!m || m[1] !== owner || m[2] !== repo) {
    log.warn({ externalId: checkRun.external_id }, "ignored: the gate check's external id is not a run of this repository");
    return;
  }
  if (!payload.installation) {
    log.warn("ignored: the delivery has no installation");
    return;
  }
  const runId = checkRun.external_id!;
  const at = new Date().toISOString();
  const event: Event = (await canWrite(context.octokit, { owner, repo }, sender))
    ? { type: "command.received", runId, at, command: identifier, note: "", by: sender, source: "button" }
    : { type: "command.refused", runId, at, by: sender, command: identifier };
  if (!(await deps.persist(context.id, event))) {
    log.info({ runId }, "ignored: this delivery was already received");
    return;
  }
  log.info({ runId, by: sender, command: identifier }, event.type === "command.refused" ? "button refused: no write access" : "button received");
  deps.wake();
}

function isButton(identifier: string | undefined): identifier is Button {
  return (buttons as readonly (string | undefined)[]).includes(identifier);
}

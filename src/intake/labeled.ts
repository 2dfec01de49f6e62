import type { Context } from "probot";
import type { Event } from "../domain/index.js";
import { canWrite } from "../github/permissions.js";

export interface LabeledIntakeDeps {
  /** The trigger label for a repo: its configured one once known, else the default. */
  triggerLabel(owner: string, repo: string): string;
  /** Persist the event under its delivery id; false when this delivery was seen before. */
  persist(deliveryId: string, event: Event): Promise<boolean>;
  /** Tell the engine there is something in the inbox; must not wait for the run. */
  wake(): void;
}

/**
 * `issues.labeled` → `run.requested`. Only verifies, dedupes and persists: GitHub waits for
 * this handler and gives up after 10 s, so everything slow happens in the engine.
 */
export async function intakeLabeled(context: Context<"issues.labeled">, deps: LabeledIntakeDeps): Promise<void> {
  const { payload } = context;
  const { owner, repo } = context.repo();
  const log = context.log.child({ deliveryId: context.id, repo: `${owner}/${repo}`, issue: payload.issue.number });
  if (payload.sender.type === "Bot") {
    log.debug("ignored: the sender is a bot");
    return;
  }
  if (payload.label?.name !== deps.triggerLabel(owner, repo)) {
    log.debug({ label: payload.label?.name }, "ignored: not the trigger label");
    return;
  }
  if (payload.issue.pull_request) {
    log.debug("ignored: the label is on a pull request");
    return;
  }
  if (!payload.installation) {
    log.warn("ignored: the delivery has no installation");
    return;
  }
  // Triage users can add labels too: the labeller's live permission decides, not the label.
  if (!(await canWrite(context.octokit, { owner, repo }, payload.sender.login))) {
    log.info({ sender: payload.sender.login }, "ignored: the labeller cannot write to the repository");
    return;
  }
  const runId = `${owner}/${repo}#${payload.issue.number}`;
  const event: Event = {
    type: "run.requested",
    runId,
    at: new Date().toISOString(),
    deliveryId: context.id,
    repo: { owner, name: repo, installationId: payload.installation.id },
    issue: { number: payload.issue.number, title: payload.issue.title, body: payload.issue.body ?? "" },
    sender: payload.sender.login,
  };
  if (!(await deps.persist(context.id, event))) {
    log.info({ runId }, "ignored: this delivery was already received");
    return;
  }
  log.info({ runId, sender: payload.sender.login }, "run requested");
  deps.wake();
}

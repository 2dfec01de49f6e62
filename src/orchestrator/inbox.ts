import type { Event } from "../domain/index.js";
import type { InboxEntry, RunStore } from "../store/run-store.js";
import { leaseDefaults, type Lease, type Leases } from "../store/leases.js";
import type { EffectContext } from "./effects/index.js";

/** Tries of one delivery before it is set aside so the ones after it go on. */
export const maxDeliveryFailures = 3;

const deliveryLease = (deliveryId: string) => `delivery:${deliveryId}`;

export interface InboxDeps {
  store: RunStore;
  leases: Leases;
  effects: Pick<EffectContext, "octokitFor" | "redact">;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  submit(event: Event): Promise<void>;
  stopped(): boolean;
  /** Pause before a failed delivery is tried again (tests shorten it). */
  inboxRetryMs?: number;
}

/** The engine's intake side: persisted deliveries become events, each once across every replica. */
export class Inbox {
  private draining: Promise<void> | undefined;
  private drainAgain = false;
  private readonly deliveryFailures = new Map<string, number>();

  constructor(private readonly deps: InboxDeps) {}

  /**
   * Turn persisted deliveries into events, in arrival order; each is taken once, even across
   * restarts. One drain runs at a time (a wake during it asks for one more pass), so no delivery
   * is submitted twice. A delivery that throws does not hold up the ones after it: it is tried
   * again after a pause, and after `maxDeliveryFailures` it is set aside, kept for an operator.
   */
  drain(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      if (this.deps.stopped()) return;
      let failed = false;
      do {
        this.drainAgain = false;
        failed = false;
        for (const entry of await this.deps.store.pendingDeliveries()) {
          if (this.deps.stopped()) return;
          if (!(await this.take(entry))) failed = true;
        }
      } while (this.drainAgain && !this.deps.stopped());
      if (failed && !this.deps.stopped()) {
        // Tried again after a pause rather than at once: the cause (a lock, a disk) may pass.
        setTimeout(() => void this.drain().catch(() => undefined), this.deps.inboxRetryMs ?? 2_000).unref();
      }
    })().finally(() => (this.draining = undefined));
    return this.draining;
  }

  /**
   * A delivery is claimed before it is submitted, so among replicas draining one inbox each takes
   * it once; a claim whose holder died expires and another replica takes it. False: try again later.
   */
  private async take(entry: InboxEntry): Promise<boolean> {
    let claim: Lease | undefined;
    try {
      claim = await this.deps.leases.claim(deliveryLease(entry.deliveryId), leaseDefaults.deliveryMs);
      // Held by another replica: looked at again after a pause, in case that replica dies.
      if (!claim) return false;
      // Taken by another replica between our read of the inbox and our claim.
      if (!(await this.deps.store.isDeliveryPending(entry.deliveryId))) return true;
    } catch (error) {
      this.deps.log.warn({ deliveryId: entry.deliveryId, err: error }, "could not claim a delivery; trying again later");
      await claim?.release().catch(() => undefined);
      return false;
    }
    try {
      return await this.submitDelivery(entry);
    } finally {
      await claim.release().catch(() => undefined);
    }
  }

  private async submitDelivery(entry: InboxEntry): Promise<boolean> {
    const { store, log } = this.deps;
    try {
      await this.deps.submit({ ...entry.event, delivery: entry.deliveryId });
      await store.markDeliveryTaken(entry.deliveryId);
      this.deliveryFailures.delete(entry.deliveryId);
      return true;
    } catch (error) {
      const failures = (this.deliveryFailures.get(entry.deliveryId) ?? 0) + 1;
      this.deliveryFailures.set(entry.deliveryId, failures);
      const message = error instanceof Error ? error.message : String(error);
      log.error({ deliveryId: entry.deliveryId, runId: entry.event.runId, event: entry.event.type, failures, err: error }, "delivery failed");
      if (failures < maxDeliveryFailures) return false;
      await store.setDeliveryAside(entry.deliveryId, message);
      this.deliveryFailures.delete(entry.deliveryId);
      log.error({ deliveryId: entry.deliveryId, runId: entry.event.runId, event: entry.event.type, error: message }, "delivery set aside after repeated failures");
      await this.answerSetAside(entry).catch((err: unknown) => log.warn({ deliveryId: entry.deliveryId, err }, "could not tell the sender"));
      return true;
    }
  }

  /** A person who steered or labelled is told their request was not acted on, where they made it. */
  private async answerSetAside(entry: InboxEntry): Promise<void> {
    const event = entry.event;
    const person = "by" in event ? event.by : event.type === "run.requested" ? event.sender : undefined;
    if (!person) return;
    const run = await this.deps.store.load(event.runId).catch(() => undefined);
    const installationId = event.type === "run.requested" ? event.repo.installationId : run?.repo.installationId;
    const m = /^([^/]+)\/([^#]+)#(\d+)$/.exec(event.runId);
    if (installationId === undefined || !m) return;
    const issueNumber = ("issueNumber" in event && event.issueNumber) || Number(m[3]);
    const what = event.type === "command.received" ? `\`/${event.command}\`` : event.type === "run.requested" ? "the label" : "your change";
    const body =
      `@${person} Shopfloor could not act on ${what}: handling it failed ${maxDeliveryFailures} times, so it was set aside ` +
      `(delivery \`${entry.deliveryId}\`) and the operator has the error in the log. Nothing else is held up; try again later.`;
    const octokit = await this.deps.effects.octokitFor(installationId);
    await octokit.rest.issues.createComment({ owner: m[1]!, repo: m[2]!, issue_number: issueNumber, body: this.deps.effects.redact?.(body) ?? body });
  }
}

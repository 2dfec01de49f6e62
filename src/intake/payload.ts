import type { Context, Probot } from "probot";
import { z } from "zod";

/**
 * The shape of each delivery Shopfloor handles: only the fields intake reads, so GitHub adding
 * fields never matters, and a delivery missing one is refused here instead of throwing a
 * `TypeError` mid-handler (answered 500, logged as a crash). Unknown fields pass through.
 */
const repository = z.object({ name: z.string(), full_name: z.string(), owner: z.object({ login: z.string() }) });
const account = z.object({ login: z.string(), type: z.string() });
const installation = z.object({ id: z.number() }).optional();
const label = z.object({ name: z.string() }).nullish();
const delivery = { repository, sender: account, installation };
const issue = z.object({ number: z.number().int(), title: z.string(), body: z.string().nullish(), pull_request: z.unknown().optional() });
const headRepo = z.object({ full_name: z.string() }).nullable();

const pullRequestHead = z.object({
  ...delivery,
  pull_request: z.object({ number: z.number().int(), head: z.object({ ref: z.string(), sha: z.string(), repo: headRepo }) }),
});

export const payloadSchemas = {
  "issues.labeled": z.object({ ...delivery, issue, label }),
  "issues.unlabeled": z.object({ ...delivery, issue: z.object({ number: z.number().int() }), label }),
  "issue_comment.created": z.object({
    ...delivery,
    issue: z.object({ number: z.number().int(), pull_request: z.unknown().optional() }),
    comment: z.object({ id: z.number(), body: z.string().nullish(), user: account.nullable(), performed_via_github_app: z.unknown().optional() }),
  }),
  "check_run.requested_action": z.object({
    ...delivery,
    check_run: z.object({ id: z.number(), name: z.string(), external_id: z.string().nullish(), app: z.object({ id: z.number() }).nullish() }),
    requested_action: z.object({ identifier: z.string() }).nullish(),
  }),
  "check_suite.completed": z.object({
    repository,
    installation,
    check_suite: z.object({ head_branch: z.string().nullable(), head_sha: z.string(), app: z.object({ id: z.number() }).nullish() }),
  }),
  "pull_request.closed": z.object({
    ...delivery,
    pull_request: z.object({ number: z.number().int(), merged: z.boolean().nullish(), head: z.object({ ref: z.string(), repo: headRepo }) }),
  }),
  "pull_request.opened": pullRequestHead,
  "pull_request.synchronize": pullRequestHead,
  "pull_request.reopened": pullRequestHead,
  status: z.object({
    repository,
    installation,
    sha: z.string(),
    branches: z.array(z.object({ name: z.string(), commit: z.object({ sha: z.string() }) })),
  }),
  push: z.object({
    repository: repository.extend({ default_branch: z.string() }),
    installation,
    sender: account.optional(),
    ref: z.string(),
    after: z.string(),
    deleted: z.boolean().optional(),
    forced: z.boolean().optional(),
    pusher: z.object({ name: z.string().optional() }).optional(),
    commits: z.array(
      z.object({
        committer: z.object({ email: z.string().nullish() }).nullish(),
        added: z.array(z.string()).optional(),
        modified: z.array(z.string()).optional(),
        removed: z.array(z.string()).optional(),
      }),
    ),
  }),
} as const;

export type HandledEvent = keyof typeof payloadSchemas;

/**
 * The delivery could not be stored (Redis down, a full disk). Answered 503 (the webhook
 * middleware answers an error's `status`): GitHub shows the delivery as failed, where an
 * operator can redeliver it, and reconciliation finds labelled issues without a run later.
 * Never 2xx: nothing is acknowledged that was not stored.
 */
export class NotStored extends Error {
  readonly status = 503;
  constructor(cause: unknown) {
    super(`delivery not stored: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "NotStored";
  }
}

/** `fn` with its failures turned into `NotStored`: for the storage an intake handler reads or writes. */
export function storing<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      throw new NotStored(error);
    }
  };
}
type Handler<E extends HandledEvent> = (context: Context<E>) => Promise<void>;

/**
 * `app.on` that answers a malformed delivery instead of crashing on it: the delivery is logged
 * with its id and what is wrong, acknowledged (2xx, since GitHub never redelivers a failure on
 * its own anyway) and has no effect. Several names share one handler, each checked by its own shape.
 * A handler whose storage failed throws `NotStored`, answered 503.
 *
 * With `received`, a delivery already received is answered first, from the store alone: a
 * redelivery needs nothing from its payload, and GitHub waits for the answer.
 */
export function onWellFormed(app: Probot) {
  return <E extends HandledEvent>(events: E | E[], handler: Handler<E>, opts: { received?: (deliveryId: string) => Promise<boolean> } = {}): void => {
    for (const event of Array.isArray(events) ? events : [events]) {
      const on = app.on as (event: E, handler: Handler<E>) => void;
      on(event, async (context) => {
        try {
          // A store that cannot answer is the handler's failure, raised after the payload is
          // checked: a malformed delivery is acknowledged and ignored whatever the store's state.
          let unanswered: unknown;
          const received = await opts.received?.(context.id).catch((error: unknown) => void (unanswered = error));
          if (received) {
            context.log.info({ deliveryId: context.id, event }, "ignored: this delivery was already received");
            return;
          }
          const parsed = payloadSchemas[event].safeParse(context.payload);
          if (!parsed.success) {
            const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(payload)"}: ${i.message}`);
            context.log.warn({ deliveryId: context.id, event, problems }, "ignored: malformed delivery payload");
            return;
          }
          if (unanswered !== undefined) throw unanswered;
          await handler(context);
        } catch (error) {
          if (error instanceof NotStored) context.log.warn({ deliveryId: context.id, event, err: error.cause }, "delivery not stored; answered 503");
          throw error;
        }
      });
    }
  };
}

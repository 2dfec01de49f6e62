import { createHmac, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

export const replayUsage = `replay <payload.json> [--event <name>] [--delivery <id>] [--url <webhook url>]
          send a saved webhook payload to a running Shopfloor, signed with WEBHOOK_SECRET as GitHub
          signs it (X-Hub-Signature-256), to reproduce a report. The file is a payload, or a saved
          delivery (GitHub's "Recent Deliveries" JSON, or { "name"/"event", "payload" }) whose event
          name is used unless --event says otherwise. A fresh X-GitHub-Delivery unless --delivery.
          --url defaults to http://localhost:3000/api/github/webhooks. Exits 1 on a non-2xx answer.`;

const defaultUrl = "http://localhost:3000/api/github/webhooks";

export interface Delivery {
  event: string;
  payload: unknown;
}

/**
 * The event and payload in a saved file: GitHub's delivery JSON (`request.headers` and
 * `request.payload`), a `{ name | event | headers, payload }` wrapper, or the bare payload (the
 * event then comes from `--event`). A string when no event name can be found.
 */
export function readDelivery(saved: unknown, eventFlag: string | undefined): Delivery | string {
  const obj = (saved ?? {}) as Record<string, any>;
  const wrapped = obj.request?.payload !== undefined ? { headers: obj.request.headers, payload: obj.request.payload, event: obj.event } : obj.payload !== undefined && (obj.name ?? obj.event ?? obj.headers) !== undefined ? obj : undefined;
  const payload = wrapped ? wrapped.payload : saved;
  const fromFile = wrapped ? (header(wrapped.headers, "x-github-event") ?? wrapped.event ?? wrapped.name) : undefined;
  const event = eventFlag ?? (typeof fromFile === "string" ? fromFile : undefined);
  if (event === undefined) return "no event name: the file is a bare payload, so name its event with --event <name> (e.g. --event issues)";
  if (!/^[a-z_]+$/.test(event)) return `"${event}" is not a webhook event name (e.g. issues, issue_comment, check_run)`;
  return { event, payload };
}

function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  const hit = Object.entries(headers).find(([k]) => k.toLowerCase() === name);
  return typeof hit?.[1] === "string" ? hit[1] : undefined;
}

/** GitHub's signature of a delivery body: HMAC-SHA256 with the webhook secret, hex. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** A delivery as GitHub sends it: the JSON body and its headers, signed with the webhook secret. */
export function signedDelivery(secret: string, delivery: { event: string; id: string; payload: unknown }): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(delivery.payload);
  const headers = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/shopfloor-replay",
    "x-github-event": delivery.event,
    "x-github-delivery": delivery.id,
    "x-hub-signature-256": signature(secret, body),
  };
  return { headers, body };
}

/** POST a delivery the way GitHub does: JSON, signed with the webhook secret. Rejects when nothing answers. */
export async function sendDelivery(url: string, secret: string, delivery: { event: string; id: string; payload: unknown }): Promise<{ status: number; ok: boolean; text: string }> {
  const response = await fetch(url, { method: "POST", ...signedDelivery(secret, delivery) });
  return { status: response.status, ok: response.ok, text: await response.text() };
}

/** `shopfloor replay`: returns the exit code (0 on a 2xx answer, 1 otherwise, 2 for bad input). */
export async function replayCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const refuse = (why: string) => {
    err(`shopfloor replay: ${why}\n\nusage: shopfloor ${replayUsage}`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { event: { type: "string" }, delivery: { type: "string" }, url: { type: "string" } } });
  } catch (error) {
    return refuse((error as Error).message);
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) return refuse("give one payload file");
  const secret = env.WEBHOOK_SECRET;
  if (!secret) return refuse("WEBHOOK_SECRET is not set: the running Shopfloor refuses unsigned deliveries");
  const path = resolve(cwd, file);
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text === undefined) return refuse(`cannot read ${path}`);
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch (error) {
    return refuse(`${path} is not JSON: ${(error as Error).message}`);
  }
  const delivery = readDelivery(saved, parsed.values.event);
  if (typeof delivery === "string") return refuse(delivery);
  const url = parsed.values.url ?? defaultUrl;
  if (!/^https?:\/\//.test(url)) return refuse(`--url must be an http(s) URL, got ${url}`);
  const id = parsed.values.delivery ?? randomUUID();
  const action = (delivery.payload as { action?: unknown } | null)?.action;
  let response: Awaited<ReturnType<typeof sendDelivery>>;
  try {
    response = await sendDelivery(url, secret, { event: delivery.event, id, payload: delivery.payload });
  } catch (error) {
    err(`shopfloor replay: could not reach ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
    return 1;
  }
  const answer = response.text.trim();
  out(`${delivery.event}${typeof action === "string" ? `.${action}` : ""} delivery ${id} → ${url}: HTTP ${response.status}`);
  if (response.ok) return 0;
  if (answer) err(answer.slice(0, 2000));
  return 1;
}

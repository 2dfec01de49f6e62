import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

/** Probot's fallback when no secret is set: public, so a delivery signed with it proves nothing. */
const probotDefaultSecret = "development";

/**
 * Why `shopfloor serve` must not start, or undefined when it may. Without a webhook secret
 * anyone who can reach the server could forge deliveries (a `/retry`, a label from "a writer").
 * Without APP_ID Probot serves only its setup page, which registers the App and writes the
 * secret, so that is allowed. Reads `.env` in `cwd` as Probot does, since setup writes there.
 */
export function webhookSecretRefusal(env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const merged = { ...env, ...dotEnv(cwd) };
  if (!merged.APP_ID) return undefined;
  const secret = merged.WEBHOOK_SECRET?.trim();
  if (secret && secret !== probotDefaultSecret) return undefined;
  return [
    secret ? "WEBHOOK_SECRET is Probot's public default." : "WEBHOOK_SECRET is not set.",
    "shopfloor serve refuses to accept webhooks without a secret of its own: anyone could forge a delivery.",
    "Set WEBHOOK_SECRET to the secret in the App's settings (Webhook secret), or unset APP_ID to register a new App on the setup page.",
  ].join("\n");
}

function dotEnv(cwd: string): Record<string, string> {
  try {
    return parseEnv(readFileSync(join(cwd, ".env"), "utf8")) as Record<string, string>;
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return {};
    throw error;
  }
}

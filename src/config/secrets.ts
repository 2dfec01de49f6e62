import { readFileSync } from "node:fs";
import { secretValues, secretsOf } from "../domain/index.js";

/** Variables passed only to a repo's setup commands (private registry tokens), whatever their names. */
const setupEnvPrefix = "SHOPFLOOR_SETUP_ENV_";

/**
 * Everything this process must never let out, longest first: the values of secret-named
 * variables (`WEBHOOK_SECRET`, `GITHUB_CLIENT_SECRET` and `PRIVATE_KEY` among them), the App's
 * key when it comes from `PRIVATE_KEY_PATH`, and every `SHOPFLOOR_SETUP_ENV_*` value.
 * Read once at start; a key file that cannot be read adds nothing here (Probot and `doctor`
 * report it).
 */
export function loadSecrets(env: NodeJS.ProcessEnv): string[] {
  const setupValues = Object.entries(env).flatMap(([name, value]) => (name.startsWith(setupEnvPrefix) && value !== undefined ? [value] : []));
  return secretValues([...secretsOf(env), ...privateKeyFile(env.PRIVATE_KEY_PATH), ...setupValues]);
}

function privateKeyFile(path: string | undefined): string[] {
  if (path === undefined || path === "") return [];
  try {
    return [readFileSync(path, "utf8").trim()];
  } catch {
    return [];
  }
}

/** Names of environment variables whose values are secrets wherever they appear. */
const secretName = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|CREDENTIAL)/i;

/** The secret values in an environment, longest first, ignoring trivially short ones. */
export function secretsOf(env: NodeJS.ProcessEnv): string[] {
  const values = Object.entries(env)
    .filter(([name, value]) => secretName.test(name) && typeof value === "string" && value.length >= 8)
    .map(([, value]) => value as string);
  // A multi-line secret (a PEM key) also counts line by line: text that quotes or escapes it
  // (JSON turns newlines into \n) still contains its long lines.
  const lines = values.flatMap((v) => (v.includes("\n") ? v.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length >= 16) : []));
  return [...new Set([...values, ...lines])].sort((a, b) => b.length - a.length);
}

/** Replace every known secret, and anything shaped like a GitHub token, before text leaves us. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("[redacted]");
  return out.replace(/\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g, "[redacted]");
}

/**
 * Redaction in depth: a known secret is removed as itself and in the encodings a model or a
 * hostile command would reach for to slip it past us — base64 (either alphabet, padded or not,
 * also inside a larger blob), hex (any case) and URL encoding, also when wrapped over lines.
 */

/** Names of environment variables whose values are secrets wherever they appear. */
const secretName = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|CREDENTIAL)/i;
/** Names of variables that say where a secret is (`PRIVATE_KEY_PATH`): the place is no secret. */
const locationName = /_(PATH|FILE|DIR)$/i;
/** Shorter values are not worth hiding and would redact common words. */
const minSecretChars = 8;
/** A PEM line shorter than this is a header fragment or padding, not key material. */
const minLineChars = 16;
/**
 * Below this a secret is matched only as itself and URL-encoded: the stable inner part of its
 * base64 would be under 12 characters, short enough to turn up in unrelated text by chance.
 */
const minEncodedBytes = 10;
/**
 * Encoders wrap their output (`base64` at 76 columns, `openssl base64` and PEM at 64, `xxd -p` at
 * 60) and JSON escapes those breaks as `\n`. A block of such lines, each at least 40 characters so
 * that ordinary text rarely forms one, is searched again with its breaks taken out. The lookbehind
 * starts a block only where a run starts, which keeps the scan linear.
 */
const wrappedBlock = /(?<![A-Za-z0-9+/=_-])(?:[A-Za-z0-9+/=_-]{40,}(?:\r?\n|\\r\\n|\\n))+[A-Za-z0-9+/=_-]+/g;
const lineBreak = /(\r?\n|\\r\\n|\\n)/;
/** A text without a hex run this long holds no hex needle, so the case-folded copy is skipped. */
const hexRun = new RegExp(`[0-9a-fA-F]{${2 * minEncodedBytes}}`);
const githubToken = /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g;
const replacement = "[redacted]";

/** The secret values in an environment, longest first, ignoring trivially short ones. */
export function secretsOf(env: NodeJS.ProcessEnv): string[] {
  const named = Object.entries(env).filter(([name]) => secretName.test(name) && !locationName.test(name));
  return secretValues(named.flatMap(([, value]) => (value === undefined ? [] : [value])));
}

/** These values as secrets: trivially short ones dropped, multi-line ones also line by line, longest first. */
export function secretValues(candidates: readonly string[]): string[] {
  const values = candidates.filter((v) => v.length >= minSecretChars);
  // A multi-line secret (a PEM key) also counts line by line: text that quotes or escapes it
  // (JSON turns newlines into \n) still contains its long lines.
  const lines = values.flatMap((v) => (v.includes("\n") ? v.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length >= minLineChars) : []));
  return [...new Set([...values, ...lines])].sort((a, b) => b.length - a.length);
}

/** Replace every known secret, plain or encoded, and anything shaped like a GitHub token, before text leaves us. */
export function redact(text: string, secrets: readonly string[]): string {
  const needles = needlesFor(secrets);
  const found: Range[] = [];
  collect(text, needles.plain, found);
  collectEncoded(text, needles, found);
  if (needles.plain.length > 0) {
    for (const block of text.matchAll(wrappedBlock)) for (const range of unwrappedMatches(block[0], block.index, needles)) found.push(range);
  }
  return cut(text, found).replace(githubToken, replacement);
}

/** What to search for, derived from the secrets. */
interface Needles {
  /** The secrets and their URL encodings, matched as they are (the secrets also across line breaks). */
  plain: string[];
  /** Base64 forms, matched as they are, also across the line breaks of wrapped output. */
  base64: string[];
  /** Hex forms in lower case, matched in any case, also across line breaks. */
  hex: string[];
}

/**
 * Computed once per secrets array: `redact` runs on every command output and comment. Searching
 * is one `indexOf` sweep per needle — a few hundred for a PEM key and some tokens, tens of
 * milliseconds per megabyte; one regex of as many alternatives took two seconds.
 */
const needleCache = new WeakMap<readonly string[], Needles>();

function needlesFor(secrets: readonly string[]): Needles {
  const cached = needleCache.get(secrets);
  if (cached !== undefined) return cached;
  const plain = new Set<string>();
  const base64 = new Set<string>();
  const hex = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    plain.add(secret);
    for (const form of urlEncoded(secret)) plain.add(form);
    const bytes = Buffer.from(secret, "utf8");
    if (bytes.length < minEncodedBytes) continue;
    hex.add(bytes.toString("hex"));
    for (const form of base64Forms(bytes)) base64.add(form);
  }
  const needles = { plain: [...plain], base64: [...base64], hex: [...hex] };
  needleCache.set(secrets, needles);
  return needles;
}

function collectEncoded(view: string, needles: Needles, found: Range[]): void {
  collect(view, needles.base64, found);
  // Hex is searched in a copy with A-F lowered: same length, so offsets carry over.
  if (needles.hex.length > 0 && hexRun.test(view)) collect(view.replace(/[A-F]/g, (c) => c.toLowerCase()), needles.hex, found);
}

/** Matches in a block of wrapped lines with its line breaks taken out, as ranges of the whole text. */
function unwrappedMatches(block: string, offset: number, needles: Needles): Range[] {
  const lineStarts: number[] = []; // in the unwrapped block
  const origins: number[] = []; // in the whole text
  let unwrapped = "";
  let at = offset;
  // Split with a capture group alternates line, break, line, …, line.
  block.split(lineBreak).forEach((part, i) => {
    if (i % 2 === 0) {
      lineStarts.push(unwrapped.length);
      origins.push(at);
      unwrapped += part;
    }
    at += part.length;
  });
  const toText = (index: number): number => {
    let [lo, hi] = [0, lineStarts.length - 1];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return origins[lo]! + index - lineStarts[lo]!;
  };
  const found: Range[] = [];
  collect(unwrapped, needles.plain, found);
  collectEncoded(unwrapped, needles, found);
  return found.map(([from, to]) => [toText(from), toText(to - 1) + 1]);
}

/** `encodeURIComponent`, and form encoding (`+` for spaces, `!'()~` escaped); %xx escapes in either case. */
function urlEncoded(secret: string): string[] {
  const forms = [encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)];
  return [...forms, ...forms.map((f) => f.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()))].filter((f) => f !== secret);
}

/** Both alphabets: the whole encoding, padded and not, and its stable inner part at each offset in a larger blob. */
function base64Forms(bytes: Buffer): string[] {
  return (["base64", "base64url"] as const).flatMap((alphabet) => {
    const whole = bytes.toString(alphabet).replace(/=+$/, "");
    const padding = "=".repeat((4 - (whole.length % 4)) % 4);
    return [whole + padding, whole, ...[0, 1, 2].map((offset) => base64Inner(bytes, offset, alphabet))];
  });
}

/**
 * The characters of the base64 of `bytes`, placed `offset` bytes into a larger blob, that depend
 * on nothing but `bytes`. Each character holds 6 bits: those straddling a neighbour's byte differ
 * from blob to blob, the rest are the same in every blob that has `bytes` at that offset (mod 3).
 */
function base64Inner(bytes: Buffer, offset: number, alphabet: "base64" | "base64url"): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(alphabet);
  return encoded.slice(Math.ceil((offset * 8) / 6), Math.floor(((offset + bytes.length) * 8) / 6));
}

/** Start (inclusive) and end (exclusive) of a match. */
type Range = [number, number];

function collect(view: string, needles: readonly string[], found: Range[]): void {
  for (const needle of needles) {
    for (let at = view.indexOf(needle); at !== -1; at = view.indexOf(needle, at + needle.length)) found.push([at, at + needle.length]);
  }
}

/** The text with each stretch of overlapping matches replaced once. */
function cut(text: string, found: Range[]): string {
  const [first, ...rest] = found.sort((a, b) => a[0] - b[0]);
  if (first === undefined) return text;
  let out = "";
  let emitted = 0;
  let [from, to] = first;
  for (const [start, end] of rest) {
    if (start < to) {
      to = Math.max(to, end);
      continue;
    }
    out += text.slice(emitted, from) + replacement;
    emitted = to;
    [from, to] = [start, end];
  }
  return out + text.slice(emitted, from) + replacement + text.slice(to);
}

/**
 * Markup with every interpolated value escaped unless it is already markup. Issue titles,
 * reports, command output and logins are hostile text; escaping by default means a forgotten
 * call cannot open a hole, and `raw` stands out where it is used.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type Part = Html | string | number | boolean | null | undefined | readonly Part[];

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Text we wrote ourselves (constants, already-escaped fragments). Never for anything from outside. */
export const raw = (text: string): Html => new Html(text);

function render(value: Part): string {
  if (value === null || value === undefined || typeof value === "boolean") return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => entities[c]!);
}

/** Escaped text whose `backtick` spans become code, as the gate's markdown writes them. */
export function codeSpans(text: string): Html {
  return raw(escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>"));
}

/** Only web links and our own paths become links: a `javascript:` URL in a CI check is text. */
export function safeHref(url: string | undefined): string | undefined {
  if (!url) return undefined;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  return /^https?:\/\//i.test(url) ? url : undefined;
}

export function usd(amount: number): string {
  return `$${amount.toFixed(2)}`;
}

/** A budget as a person set it: `$5`, `$7.50`. */
export function budgetUsd(amount: number): string {
  return Number.isInteger(amount) ? `$${amount}` : `$${amount.toFixed(2)}`;
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** A span of time as a person says it: "under 1 min", "12 min", "3 h 5 min", "2 d 4 h". */
export function duration(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return "under 1 min";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** A moment in UTC, readable and machine-readable. */
export function time(iso: string): Html {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return html`${iso}`;
  const at = new Date(ms).toISOString();
  return html`<time datetime="${at}">${at.slice(0, 10)} ${at.slice(11, 19)} UTC</time>`;
}

/** The run view's address; owner and repo are path segments, so they are encoded. */
export function runPath(owner: string, repo: string, issue: number): string {
  return `/shopfloor/runs/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/${issue}`;
}

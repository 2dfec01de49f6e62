import type { JournalEntry } from "./run-store.js";

/** One line per journal entry: what happened, and what the engine decided about it. */
export function formatTrace(entries: readonly JournalEntry[]): string {
  return entries
    .map((e) => {
      const ev = e.event as { type: string; key?: string; failure?: { reason: string; detail: string } };
      const failure = ev.failure ? ` failure=${ev.failure.reason}: ${ev.failure.detail.slice(0, 160).replace(/\s+/g, " ")}` : "";
      const effects = e.effects.length > 0 ? ` → ${e.effects.map((k) => k.split(":").at(-2)).join(", ")}` : "";
      const note = e.note ? ` (${e.note})` : "";
      return `#${e.seq} ${e.at} ${ev.type}${failure} phase=${e.phase ?? "-"}${effects}${note}`.replace(/```/g, "'''");
    })
    .join("\n");
}

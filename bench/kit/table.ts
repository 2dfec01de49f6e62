/** The table `npm run bench` prints: one line per figure, next to its anchor, goal and verdict. */
import type { Row } from "./figure.js";

export interface BenchResult {
  name: string;
  title: string;
  seconds: number;
  status: "ok" | "failed" | "script";
  error?: string;
  rows: Row[];
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const digits = Number.isInteger(n) ? 0 : Math.abs(n) < 10 ? 2 : Math.abs(n) < 100 ? 1 : 0;
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const verdict = (row: Row): string => (row.ok === undefined ? "" : row.ok ? "met" : "MISSED");

function anchorText(row: Row): string {
  if (!row.anchor) return "";
  const ratio = row.value / row.anchor.value;
  const times = row.anchor.ratio !== false && Number.isFinite(ratio) && row.anchor.value !== 0 ? ` (${ratio.toFixed(2)}×)` : "";
  return `${row.anchor.name}: ${formatNumber(row.anchor.value)} ${row.unit}${times}`;
}

export function renderTable(results: readonly BenchResult[]): string {
  const lines: string[][] = [["bench", "figure", "value", "anchor", "goal", "verdict"]];
  const notes: string[] = [];
  for (const r of results) {
    if (r.status === "failed") lines.push([r.name, "did not run to the end", "", "", "", "FAILED"]);
    if (r.status === "script") lines.push([r.name, "printed its own figures (not a figure module: see its output)", "", "", "", ""]);
    for (const [i, row] of r.rows.entries()) {
      const mark = row.note ? ` [${notes.push(`${r.name}: ${row.name}: ${row.note}`)}]` : "";
      lines.push([i === 0 || r.status === "failed" ? r.name : "", `${row.name}${mark}`, `${formatNumber(row.value)} ${row.unit}`, anchorText(row), row.goal ?? "", verdict(row)]);
    }
  }
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  const text = lines.map((l) => l.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd());
  text.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return [...text, "", ...notes.map((n, i) => `[${i + 1}] ${n}`)].join("\n");
}

export function tally(results: readonly BenchResult[]): { met: number; missed: number; failed: number } {
  const rows = results.flatMap((r) => r.rows);
  return {
    met: rows.filter((row) => row.ok === true).length,
    missed: rows.filter((row) => row.ok === false).length,
    failed: results.filter((r) => r.status === "failed").length,
  };
}

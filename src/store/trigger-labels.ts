import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";

/**
 * The trigger label of each repo whose config Shopfloor has read, kept on disk, so a label
 * event is recognised without reading the config on every label change in every repo.
 */
export class TriggerLabels {
  private labels: Record<string, string> = {};
  private readonly path: string;

  constructor(stateDir: string, private readonly fallback: string) {
    this.path = join(stateDir, "trigger-labels.json");
  }

  async load(): Promise<void> {
    const text = await readFile(this.path, "utf8").catch(() => "{}");
    this.labels = JSON.parse(text) as Record<string, string>;
  }

  labelFor(owner: string, repo: string): string {
    return this.labels[`${owner}/${repo}`.toLowerCase()] ?? this.fallback;
  }

  async remember(owner: string, repo: string, label: string): Promise<void> {
    const key = `${owner}/${repo}`.toLowerCase();
    if (this.labels[key] === label) return;
    this.labels = { ...this.labels, [key]: label };
    await writeFileAtomic(this.path, JSON.stringify(this.labels, null, 2));
  }
}

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { writeFileAtomic } from "./atomic.js";

/** Where the labels are kept: a file for one process, a Redis hash shared by every replica. */
export interface TriggerLabelBook {
  /** Every remembered label, keyed by lower-case `owner/repo`. */
  read(): Promise<Record<string, string>>;
  write(repoKey: string, label: string, all: Record<string, string>): Promise<void>;
}

export class FileTriggerLabelBook implements TriggerLabelBook {
  private readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, "trigger-labels.json");
  }

  async read(): Promise<Record<string, string>> {
    return JSON.parse(await readFile(this.path, "utf8").catch(() => "{}")) as Record<string, string>;
  }

  async write(_repoKey: string, _label: string, all: Record<string, string>): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(all, null, 2));
  }
}

/** One hash field per repo: a replica writes only its repo's label, never over another's. */
export class RedisTriggerLabelBook implements TriggerLabelBook {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  read(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.key);
  }

  async write(repoKey: string, label: string): Promise<void> {
    await this.redis.hset(this.key, repoKey, label);
  }
}

/**
 * The trigger label of each repo whose config Shopfloor has read, so a label event is recognised
 * without reading the config on every label change in every repo. Lookups are synchronous (from
 * the last `load`); with several replicas, `load` before each lookup that matters, since the
 * config may have been read by another replica.
 */
export class TriggerLabels {
  private labels: Record<string, string> = {};

  constructor(
    private readonly book: TriggerLabelBook,
    private readonly fallback: string,
  ) {}

  async load(): Promise<void> {
    this.labels = await this.book.read();
  }

  labelFor(owner: string, repo: string): string {
    return this.labels[`${owner}/${repo}`.toLowerCase()] ?? this.fallback;
  }

  async remember(owner: string, repo: string, label: string): Promise<void> {
    const key = `${owner}/${repo}`.toLowerCase();
    // Written even when this replica already knew it: another may have written a different one since.
    this.labels = { ...this.labels, [key]: label };
    await this.book.write(key, label, this.labels);
  }
}

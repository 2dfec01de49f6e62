import { parseRoute } from "./route.js";

/**
 * Models the vendors' SDKs mark deprecated, with their end of life and the route to move to.
 *
 * `@anthropic-ai/sdk` keeps its table (`DEPRECATED_MODELS`, model → "November 30th, 2026") in
 * modules its package `exports` do not expose, and warns on every request naming such a model;
 * the `openai` SDK has no deprecation table. So the rows are copied here, with ISO dates, and
 * test/models/deprecated.test.ts reads the installed SDK's own table and fails when it lists a
 * model that is missing here or a default route becomes deprecated: on an SDK upgrade, update
 * these rows and move the defaults (role cards, `review.reviewers`, the example config).
 *
 * A replacement is a current model from the same SDK's model list that the price table knows,
 * so a run moved to it still counts against its USD budget.
 */
export interface ModelDeprecation {
  /** The route as written, e.g. "anthropic/claude-sonnet-4-5". */
  route: string;
  /** Last day the vendor serves the model, YYYY-MM-DD. */
  endOfLife: string;
  /** The route to use instead, e.g. "anthropic/claude-sonnet-5-5". */
  replacement: string;
}

type Row = { endOfLife: string; replacement: string };

/** `@anthropic-ai/sdk` 1.12 `DEPRECATED_MODELS` (messages and internal/data tables together). */
const anthropic: Record<string, Row> = {
  "claude-mythos-preview": { endOfLife: "2026-06-30", replacement: "claude-mythos-5-1" },
  "claude-sonnet-4-5": { endOfLife: "2026-11-30", replacement: "claude-sonnet-5-5" },
  "claude-sonnet-4-5-20250929": { endOfLife: "2026-11-30", replacement: "claude-sonnet-5-5" },
};

/** Route provider → its SDK's rows; providers whose SDK marks nothing are absent. */
const tables: Record<string, Record<string, Row>> = { anthropic };

/** The deprecation of `route`'s model, or undefined when its SDK does not mark it (or the route is malformed). */
export function findDeprecation(route: string): ModelDeprecation | undefined {
  let provider: string;
  let model: string;
  try {
    ({ provider, model } = parseRoute(route));
  } catch {
    return undefined; // a malformed route is the schema's to report, not this lookup's
  }
  const table = tables[provider];
  const row = table && Object.hasOwn(table, model) ? table[model] : undefined;
  return row && { route, endOfLife: row.endOfLife, replacement: `${provider}/${row.replacement}` };
}

/** "anthropic/claude-sonnet-4-5 is deprecated (end of life 2026-11-30); use anthropic/claude-sonnet-5-5". */
export function describeDeprecation(d: Pick<ModelDeprecation, "route" | "endOfLife" | "replacement">): string {
  return `${d.route} is deprecated (end of life ${d.endOfLife}); use ${d.replacement}`;
}

/** Every model the tables mark, as routes: what tests compare with the installed SDKs. */
export function deprecatedRoutes(): ModelDeprecation[] {
  return Object.entries(tables).flatMap(([provider, rows]) =>
    Object.entries(rows).map(([model, row]) => ({ route: `${provider}/${model}`, endOfLife: row.endOfLife, replacement: `${provider}/${row.replacement}` })),
  );
}

/** The warning for `route`, or undefined when it is current: what the config check is given. */
export function deprecationNotice(route: string): string | undefined {
  const d = findDeprecation(route);
  return d && describeDeprecation(d);
}

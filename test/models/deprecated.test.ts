import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseRepoConfig } from "../../src/config/repo-config.js";
import { defaultRepoConfig } from "../../src/domain/index.js";
import { deprecatedRoutes, deprecationNotice, findDeprecation } from "../../src/models/deprecated.js";
import { findPrice } from "../../src/models/prices.js";
import { createModel, parseRoute } from "../../src/models/route.js";
import { loadRoleCards } from "../../src/workers/role-card.js";
import { startModelServer, type ModelServer } from "../kit/model-server.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const require = createRequire(import.meta.url);
const anthropicSdk = dirname(require.resolve("@anthropic-ai/sdk"));
const openaiSdk = dirname(require.resolve("openai"));

/** "November 30th, 2026" (the SDK's spelling) → "2026-11-30". */
function isoDate(sdkDate: string): string {
  const parsed = new Date(`${sdkDate.replace(/(\d)(st|nd|rd|th)\b/, "$1")} UTC`);
  if (Number.isNaN(parsed.getTime())) throw new Error(`unreadable SDK date ${sdkDate}`);
  return parsed.toISOString().slice(0, 10);
}

/**
 * The installed Anthropic SDK's own deprecation tables: the shared `internal/data` module and the
 * copies inside the Messages resources that print the warning. Not exported by the package, so
 * read from its files; a missing table fails here rather than passing silently.
 */
async function sdkDeprecations(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const shared = require(join(anthropicSdk, "internal/data/deprecated-models.js")) as { DEPRECATED_MODELS: Record<string, string> };
  for (const [model, date] of Object.entries(shared.DEPRECATED_MODELS)) found.set(model, isoDate(date));
  for (const file of ["resources/messages/messages.js", "resources/beta/messages/messages.js"]) {
    const text = await readFile(join(anthropicSdk, file), "utf8");
    const table = /const DEPRECATED_MODELS = \{([^}]*)\}/.exec(text)?.[1];
    if (table === undefined) throw new Error(`no DEPRECATED_MODELS in ${file}`);
    for (const m of table.matchAll(/'([^']+)':\s*'([^']+)'/g)) found.set(m[1]!, isoDate(m[2]!));
  }
  return found;
}

/** The model names a type union of the SDK lists (its `(string & {})` escape aside). */
async function sdkModelList(file: string, type: string): Promise<Set<string>> {
  const text = await readFile(file, "utf8");
  const union = new RegExp(`export type ${type} = ([^;]*);`).exec(text)?.[1];
  if (union === undefined) throw new Error(`no ${type} in ${file}`);
  return new Set([...union.matchAll(/'([^']+)'/g)].map((m) => m[1]!));
}

async function sdkModels(provider: string): Promise<Set<string>> {
  if (provider === "anthropic") return sdkModelList(join(anthropicSdk, "resources/messages/messages.d.ts"), "Model");
  const chat = await sdkModelList(join(openaiSdk, "resources/shared.d.ts"), "ChatModel");
  return provider === "openai-responses" ? new Set([...chat, ...(await sdkModelList(join(openaiSdk, "resources/shared.d.ts"), "ResponsesModel"))]) : chat;
}

/** Every default route Shopfloor ships: role cards, the config's default reviewers, the example config. */
async function defaultRoutes(): Promise<{ where: string; route: string }[]> {
  const cards = [...(await loadRoleCards(join(root, "agents"))).values()].map((c) => ({ where: c.file, route: c.model }));
  const example = parseRepoConfig(parseYaml(await readFile(join(root, ".github/shopfloor.yml"), "utf8")));
  if (!example.ok) throw new Error(example.errors.join("\n"));
  const exampleRoutes = [...Object.values(example.config.models), ...example.config.review.reviewers];
  return [
    ...cards,
    ...defaultRepoConfig.review.reviewers.map((route) => ({ where: "review.reviewers default", route })),
    ...exampleRoutes.map((route) => ({ where: ".github/shopfloor.yml", route: route! })),
  ];
}

let server: ModelServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
});

describe("default model routes", () => {
  it("are in the installed SDKs' model lists, not deprecated by them, and priced", async () => {
    const deprecated = await sdkDeprecations();
    const routes = await defaultRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(8);
    for (const { where, route } of routes) {
      const { provider, model } = parseRoute(route);
      expect(await sdkModels(provider), `${where}: ${route} is not in the SDK's model list`).toContain(model);
      expect(deprecated.get(model), `${where}: ${route} is deprecated by the installed SDK`).toBeUndefined();
      expect(findDeprecation(route), `${where}: ${route}`).toBeUndefined();
      expect(findPrice(provider, model), `${where}: ${route} has no price, so runs would not count its dollars`).not.toBeNull();
    }
  });

  it("draw no deprecation warning from the Anthropic SDK, which warns for a deprecated model", async () => {
    const anthropicModels = [...new Set((await defaultRoutes()).map((r) => parseRoute(r.route)).filter((r) => r.provider === "anthropic").map((r) => r.model))];
    expect(anthropicModels.length).toBeGreaterThan(0);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const models = [...anthropicModels, "claude-sonnet-4-5"];
    server = await startModelServer(Object.fromEntries(models.map((m) => [m, [{ text: "ok" }]])));
    const env = { ANTHROPIC_API_KEY: "sk-ant-test", ANTHROPIC_BASE_URL: server.url };
    const ask = { system: "s", messages: [{ role: "user" as const, text: "hi" }], tools: [], maxTokens: 16 };

    for (const model of anthropicModels) {
      await createModel(`anthropic/${model}`, env).complete(ask);
      expect(warn.mock.calls.flat().join("\n"), model).not.toMatch(/deprecated/);
    }
    await createModel("anthropic/claude-sonnet-4-5", env).complete(ask);
    expect(warn.mock.calls.flat().join("\n")).toContain("'claude-sonnet-4-5' is deprecated and will reach end-of-life on November 30th, 2026");
  });
});

describe("the deprecation table", () => {
  it("holds every model the installed Anthropic SDK deprecates, with the SDK's end of life", async () => {
    const deprecated = await sdkDeprecations();
    expect(deprecated.get("claude-sonnet-4-5")).toBe("2026-11-30");
    for (const [model, endOfLife] of deprecated) {
      expect(findDeprecation(`anthropic/${model}`), model).toMatchObject({ route: `anthropic/${model}`, endOfLife });
    }
  });

  it("recommends replacements that are listed, current and priced", async () => {
    const deprecated = await sdkDeprecations();
    for (const { route, replacement } of deprecatedRoutes()) {
      const { provider, model } = parseRoute(replacement);
      expect(await sdkModels(provider), `${route} → ${replacement}`).toContain(model);
      expect(deprecated.has(model), `${route} → ${replacement}`).toBe(false);
      expect(findPrice(provider, model), `${route} → ${replacement}`).not.toBeNull();
    }
  });

  it("words a notice with the route, the end of life and the replacement, and none for a current route", () => {
    expect(deprecationNotice("anthropic/claude-sonnet-4-5-20250929")).toBe(
      "anthropic/claude-sonnet-4-5-20250929 is deprecated (end of life 2026-11-30); use anthropic/claude-sonnet-5-5",
    );
    expect(deprecationNotice("anthropic/claude-sonnet-5-5")).toBeUndefined();
    // Another provider's model of the same name is not Anthropic's to deprecate.
    expect(deprecationNotice("local/claude-sonnet-4-5")).toBeUndefined();
    expect(deprecationNotice("not a route")).toBeUndefined();
  });
});

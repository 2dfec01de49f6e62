import examples from "@octokit/webhooks-examples";
import { describe, expect, it } from "vitest";
import { payloadSchemas, type HandledEvent } from "../../src/intake/payload.js";

const all = examples as unknown as { name: string; examples: any[] }[];

describe("payload shapes", () => {
  /** Every real example of every event Shopfloor handles: a shape check that refused one would drop real work. */
  const real = (Object.keys(payloadSchemas) as HandledEvent[]).flatMap((event) => {
    const [name, action] = event.split(".");
    const found = all.find((e) => e.name === name)?.examples.filter((e) => action === undefined || e.action === action) ?? [];
    return found.map((payload, i) => ({ event, i, payload }));
  });

  it("has real examples for every handled event", () => {
    expect(new Set(real.map((r) => r.event))).toEqual(new Set(Object.keys(payloadSchemas)));
  });

  it.each(real.map((r) => [`${r.event} #${r.i}`, r] as const))("accepts GitHub's own %s", (_, { event, payload }) => {
    const parsed = payloadSchemas[event].safeParse(payload);
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  });
});

import { z } from "zod";

/** Token usage of one model response, as the provider reported it, priced by the model room. */
export const UsageSchema = z.object({
  provider: z.string(),
  model: z.string(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cachedTokens: z.number().int().nonnegative().default(0),
  /** null when the model is not in the price table: tokens still count against the budget. */
  costUsd: z.number().nonnegative().nullable(),
});
export type Usage = z.infer<typeof UsageSchema>;

export function sumUsage(items: readonly Usage[]): { tokens: number; costUsd: number } {
  let tokens = 0;
  let costUsd = 0;
  for (const u of items) {
    tokens += u.inputTokens + u.outputTokens;
    costUsd += u.costUsd ?? 0;
  }
  return { tokens, costUsd };
}

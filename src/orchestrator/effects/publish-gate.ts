import type { Effect, Run } from "../../domain/index.js";
import { publishGateCheck, type CheckAction } from "../../github/checks.js";
import { coordinates, type Answer, type EffectContext } from "./context.js";

const buttons: Record<"retry" | "escalate", CheckAction> = {
  retry: { label: "Retry", description: "Run the failed step again", identifier: "retry" },
  escalate: { label: "Escalate", description: "Stop and hand to a person", identifier: "escalate" },
};

export async function publishGate(run: Run, effect: Extract<Effect, { kind: "publishGate" }>, ctx: EffectContext): Promise<Answer> {
  const octokit = await ctx.octokitFor(run.repo.installationId);
  const common = {
    headSha: effect.headSha,
    externalId: run.id,
    title: effect.title,
    summary: effect.summary,
    annotations: effect.annotations.map((a) => ({
      path: a.path,
      start_line: a.line,
      end_line: a.line,
      annotation_level: a.level,
      title: a.title,
      message: a.message,
    })),
    actions: effect.actions.map((a) => buttons[a]),
  };
  const checkRunId = await publishGateCheck(
    octokit,
    coordinates(run),
    effect.conclusion === undefined ? { ...common, status: "in_progress" } : { ...common, status: "completed", conclusion: effect.conclusion },
  );
  return { type: "gate.published", checkRunId };
}

import { sumUsage, type GateItem, type Run } from "../domain/index.js";

export interface GateVerdict {
  conclusion: "success" | "failure" | "action_required";
  items: GateItem[];
}

/**
 * The Definition of Done as a pure function of the run's notes. Every item carries its
 * evidence; the gate passes only when every item passes. An item with no evidence fails:
 * nothing is assumed done.
 */
export function evaluateGate(run: Run): GateVerdict {
  const items: GateItem[] = [];
  const plan = run.plan;
  items.push(
    plan
      ? { item: "Plan and validation contract", state: "pass", evidence: `${plan.subtasks.length} subtask(s), ${plan.contract.assertions.length} assertion(s), checked mechanically` }
      : { item: "Plan and validation contract", state: "fail", evidence: "no accepted plan" },
  );
  const subtasks = plan?.subtasks ?? [];
  const notOk = subtasks.filter((s) => run.subtasks[s.id]?.status !== "ok");
  items.push(
    subtasks.length > 0 && notOk.length === 0
      ? { item: "Every subtask reported ok", state: "pass", evidence: subtasks.map((s) => `${s.id}: ok`).join(", ") }
      : {
          item: "Every subtask reported ok",
          state: "fail",
          evidence: notOk.map((s) => `${s.id}: ${run.subtasks[s.id]?.status ?? "not run"}`).join(", ") || "no subtasks",
        },
  );
  const commands = run.scrutiny ?? [];
  if (commands.length === 0) {
    items.push({ item: "Repo commands", state: "fail", evidence: "no command ran: configure `commands` in .github/shopfloor.yml" });
  }
  for (const c of commands) {
    const seconds = (c.ms / 1000).toFixed(1);
    items.push({
      item: `\`${c.cmd}\` (${c.name})`,
      state: c.exitCode === 0 ? "pass" : "fail",
      evidence: c.timedOut ? `timed out after ${seconds} s` : `exit ${c.exitCode} in ${seconds} s`,
    });
  }
  const budget = run.config?.budget;
  const spent = sumUsage(run.usage);
  if (budget) {
    const within = spent.costUsd <= budget.usd && spent.tokens <= budget.tokens;
    items.push({
      item: "Within budget",
      state: within ? "pass" : "fail",
      evidence: `$${spent.costUsd.toFixed(2)} of $${budget.usd.toFixed(2)}, ${spent.tokens} of ${budget.tokens} tokens`,
    });
  }
  const conclusion = items.every((i) => i.state === "pass") ? "success" : "failure";
  return { conclusion, items };
}

import { commandResult, sumUsage, terminalPhases, type JobProgress, type Run, type Usage } from "../domain/index.js";
import { evaluateGate } from "../orchestrator/gate.js";

/**
 * What the terminal shows of a run, as a pure function of its notes and its jobs' progress: the
 * stage it is in (plan, a build round, the repository's commands, a review round, the gate) and
 * that stage's items. Both views (live and plain lines) render this.
 */
export interface Stage {
  /** Changes when the run moves on: "plan", "build:0", "scrutiny:0", "review:1", "end", … */
  key: string;
  title: string;
  items: StageItem[];
  /** Extra lines under the stage (the plan's contract, the gate's table). */
  notes: string[];
  state: ItemState;
}

export type ItemState = "pending" | "running" | "ok" | "failed";

export interface StageItem {
  id: string;
  title: string;
  state: ItemState;
  /** One line: progress while running (turns, tool calls, files, spend), the outcome after. */
  detail: string;
  /** Findings of a review, and the like. */
  notes: string[];
}

/** Fix subtasks appended to the plan: after a review, a red scrutiny, a red CI. */
const fixSubtask = /^(fix-r|scrutiny-fix-|ci-fix-)\d+$/;

/** Which stage the run is in now. */
export function stageKey(run: Run): string {
  const round = run.fixRounds + run.scrutinyFixes + run.ciFixes;
  if (terminalPhases.includes(run.phase) || run.phase === "paused") return "end";
  switch (run.phase) {
    case "configuring":
    case "planning":
      return "plan";
    case "building":
      return `build:${round}`;
    case "scrutiny":
      return `scrutiny:${round}`;
    case "reviewing":
      return `review:${run.reviewRound}`;
    default:
      return run.phase;
  }
}

/** The stage `key` as the notes describe it now (a stage that ended is described with its outcome). */
export function describeStage(run: Run, key: string, progress: Readonly<Record<string, JobProgress>>): Stage {
  const [kind, n] = key.split(":") as [string, string | undefined];
  const live = key === stageKey(run);
  const stage = (title: string, items: StageItem[], notes: string[] = [], state?: ItemState): Stage => ({
    key,
    title,
    items,
    notes,
    state: state ?? (items.some((i) => i.state === "failed") ? "failed" : live ? "running" : "ok"),
  });
  switch (kind) {
    case "plan":
      return planStage(run, progress, live, stage);
    case "build":
      return stage(Number(n) === 0 ? "Build" : `Fix round ${n}`, buildItems(run, Number(n), progress));
    case "scrutiny": {
      const done = !live && run.scrutiny !== undefined;
      const items = done ? run.scrutiny!.map((c) => ({ id: c.name, title: `${c.cmd} (${c.name})`, state: (c.exitCode === 0 && !c.skipped ? "ok" : "failed") as ItemState, detail: commandResult(c), notes: [] })) : [];
      return stage("Repository commands in the sandbox", items, done && items.length === 0 ? ["no command configured: set `commands` in .github/shopfloor.yml"] : []);
    }
    case "publishing":
      return stage("Pull request (local stand-in)", []);
    case "awaiting_approval":
      return stage("Waiting for approval of the plan", [], [], live ? "running" : run.approvedBy ? "ok" : "failed");
    case "awaiting_ci":
      return stage("Repository CI: none on a local repository", []);
    case "review":
      return stage(`Review round ${n}`, reviewItems(run, Number(n), progress));
    default:
      return endStage(run, stage);
  }
}

type Make = (title: string, items: StageItem[], notes?: string[], state?: ItemState) => Stage;

function planStage(run: Run, progress: Readonly<Record<string, JobProgress>>, live: boolean, stage: Make): Stage {
  const plan = run.plan;
  const job = runningJob(run, (j) => j.kind === "plan");
  const state: ItemState = plan ? "ok" : live ? "running" : "failed";
  const detail = plan
    ? `${plan.subtasks.length} subtask(s), ${plan.contract.assertions.length} assertion(s), risk ${plan.risk}${spendOf(run.usage.filter((u) => u.role === "planner"))}`
    : job
      ? progressLine(progress[job])
      : run.phase === "configuring"
        ? "reading .github/shopfloor.yml"
        : "";
  const notes = plan
    ? [
        ...plan.subtasks.map((s) => `${s.id} (${s.role}): ${s.title}${s.files.length > 0 ? ` — ${s.files.join(", ")}` : ""}`),
        ...plan.contract.assertions.map((a) => `${a.id}: ${a.text} — ${a.check.kind === "command" ? `\`${a.check.command}\`` : "review"}`),
      ]
    : [];
  return stage(plan ? `Plan: ${oneLine(plan.summary)}` : "Plan", [{ id: "planner", title: "planner", state, detail, notes }], [], state);
}

function buildItems(run: Run, round: number, progress: Readonly<Record<string, JobProgress>>): StageItem[] {
  const subtasks = run.plan?.subtasks ?? [];
  const fixes = subtasks.filter((s) => fixSubtask.test(s.id));
  const mine = round === 0 ? subtasks.filter((s) => !fixSubtask.test(s.id)) : fixes.slice(round - 1, round);
  return mine.map((s) => {
    const state = run.subtasks[s.id];
    const job = runningJob(run, (j) => j.kind === "build" && j.subtask.id === s.id);
    const result = state?.result;
    const itemState: ItemState = state?.status === "ok" ? "ok" : state?.status === "running" ? "running" : state?.status === "pending" || state === undefined ? "pending" : "failed";
    const detail =
      itemState === "running"
        ? progressLine(job ? progress[job] : undefined)
        : result
          ? `${result.status}, confidence ${result.confidence.toFixed(2)}, ${plural(result.artifact.filesChanged.length, "file")} changed${spendOf(result.usage)}`
          : (state?.failure?.detail ?? "");
    return { id: s.id, title: `${s.id} (${s.role}) ${oneLine(s.title)}`, state: itemState, detail, notes: result ? [oneLine(result.summary)] : [] };
  });
}

function reviewItems(run: Run, round: number, progress: Readonly<Record<string, JobProgress>>): StageItem[] {
  const routes = run.config?.review.reviewers ?? [];
  const current = run.reviewRound === round;
  return routes.map((route, i) => {
    const reviewer = `r${i + 1}`;
    const review = current ? run.reviews.find((r) => r.reviewer === reviewer) : undefined;
    if (!review) {
      const job = runningJob(run, (j) => j.kind === "review" && j.reviewer === reviewer);
      return { id: reviewer, title: route, state: job ? "running" : "pending", detail: job ? progressLine(progress[job]) : "", notes: [] };
    }
    return {
      id: reviewer,
      title: route,
      state: review.verdict === "approve" ? "ok" : "failed",
      detail: `${review.verdict === "approve" ? "approves" : "requests changes"}, confidence ${review.confidence.toFixed(2)}, ${plural(review.findings.length, "finding")}${spendOf(review.usage)}`,
      notes: review.findings.map((f) => `${f.severity} ${f.file}:${f.line} ${oneLine(f.body)}`),
    };
  });
}

function endStage(run: Run, stage: Make): Stage {
  const items = run.gate?.items ?? evaluateGate(run).items;
  const rows = items.map((i) => ({ id: i.item, title: i.item, state: (i.state === "pass" ? "ok" : i.state === "fail" ? "failed" : "pending") as ItemState, detail: oneLine(i.evidence), notes: [] }));
  const conclusion = run.gate?.conclusion;
  const title =
    run.phase === "gated"
      ? `Gate: ${conclusion}`
      : run.phase === "escalated"
        ? `Escalated: ${run.failure?.reason ?? "a person decides"}`
        : run.phase === "rejected"
          ? "Not started: the configuration is invalid"
          : `Stopped: ${run.phase}`;
  const notes = [run.failure ? `Why: ${oneLine(run.failure.detail)}` : "", run.question ? `Question: ${oneLine(run.question)}` : "", `Spend: ${spendOf(run.usage).slice(2) || "nothing"}`].filter(Boolean);
  return stage(title, rows, notes, conclusion === "success" && run.phase === "gated" ? "ok" : "failed");
}

/** The id of a job of the run that is dispatched and not yet answered. */
function runningJob(run: Run, match: (job: Extract<Run["pending"][number], { kind: "dispatchJob" }>["job"]) => boolean): string | undefined {
  for (const e of run.pending) if (e.kind === "dispatchJob" && match(e.job)) return e.job.jobId;
  return undefined;
}

export function progressLine(p: JobProgress | undefined): string {
  if (!p) return "starting";
  const spent = p.costUsd !== undefined ? `, $${p.costUsd.toFixed(4)} so far` : "";
  return `turn ${p.turn}, ${plural(p.toolCalls, "tool call")}, ${plural(p.filesChanged, "file")} changed${spent}`;
}

function spendOf(usage: readonly Usage[]): string {
  if (usage.length === 0) return "";
  const { tokens, costUsd } = sumUsage(usage);
  return `, $${costUsd.toFixed(4)} (${tokens} tokens)`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}…` : flat;
}

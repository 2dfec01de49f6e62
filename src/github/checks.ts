import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

export const gateCheckName = "Shopfloor gate";

/** GitHub's limits on check run output and buttons (Checks API reference). */
export const checkLimits = {
  title: 255,
  summary: 65_535,
  text: 65_535,
  /** Annotations per create/update request; more need further update calls. */
  annotationsPerRequest: 50,
  annotationMessage: 64 * 1024 - 1,
  annotationTitle: 255,
  actions: 3,
  actionLabel: 20,
  actionDescription: 40,
  actionIdentifier: 20,
} as const;

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "notice" | "warning" | "failure";
  message: string;
  title?: string;
}

/** A button on the check run; clicking it sends `check_run.requested_action` with `identifier`. */
export interface CheckAction {
  label: string;
  description: string;
  identifier: string;
}

/** The gate never concludes neutral or skipped: GitHub counts both as passing a required check. */
export type GateConclusion = "success" | "failure" | "action_required";

export interface GateCheck {
  headSha: string;
  externalId: string;
  /** Defaults from `conclusion`: completed with one, in progress without. */
  status?: "in_progress" | "completed";
  conclusion?: GateConclusion;
  title: string;
  summary: string;
  text?: string;
  annotations?: CheckAnnotation[];
  actions?: CheckAction[];
}

const cutNote = "\n\n… (cut to fit GitHub's limit)";

/**
 * Publish the gate check on `headSha`: `in_progress` while a run works, `completed` with a
 * conclusion at the end. A check run of ours with the same `external_id` on that commit is
 * updated instead of creating a second one. Annotations go 50 per request; those GitHub already
 * holds for the run are not sent again, since GitHub appends annotations on every update.
 */
export async function publishGateCheck(octokit: InstallationOctokit, at: RepoCoordinates, gate: GateCheck): Promise<number> {
  const actions = validActions(gate.actions ?? []);
  const output = {
    title: cutToFit(gate.title, checkLimits.title),
    summary: cutToFit(gate.summary, checkLimits.summary),
    ...(gate.text !== undefined ? { text: cutToFit(gate.text, checkLimits.text) } : {}),
  };
  const state = runState(gate);

  const { data } = await octokit.rest.checks.listForRef({
    owner: at.owner,
    repo: at.repo,
    ref: gate.headSha,
    check_name: gateCheckName,
    filter: "latest",
    per_page: 100,
  });
  const mine = data.check_runs.find((c) => c.external_id === gate.externalId);
  let annotations = (gate.annotations ?? []).map(fitAnnotation);
  if (mine && mine.output.annotations_count > 0 && annotations.length > 0) {
    const held = await heldAnnotations(octokit, at, mine.id);
    annotations = annotations.filter((a) => !held.has(annotationKey(a)));
  }
  const [first = [], ...rest] = batches(annotations, checkLimits.annotationsPerRequest);
  const firstOutput = first.length > 0 ? { ...output, annotations: first } : output;
  const buttons = gate.actions !== undefined ? { actions } : {};

  let id: number;
  if (mine) {
    await octokit.rest.checks.update({ owner: at.owner, repo: at.repo, check_run_id: mine.id, ...state, output: firstOutput, ...buttons });
    id = mine.id;
  } else {
    const created = await octokit.rest.checks.create({
      owner: at.owner,
      repo: at.repo,
      name: gateCheckName,
      head_sha: gate.headSha,
      external_id: gate.externalId,
      ...state,
      output: firstOutput,
      ...buttons,
    });
    id = created.data.id;
  }
  for (const batch of rest) {
    await octokit.rest.checks.update({ owner: at.owner, repo: at.repo, check_run_id: id, output: { ...output, annotations: batch } });
  }
  return id;
}

function runState(gate: GateCheck) {
  const status = gate.status ?? (gate.conclusion === undefined ? "in_progress" : "completed");
  if (status === "in_progress") {
    if (gate.conclusion !== undefined) throw new RangeError("an in_progress check run takes no conclusion");
    return { status };
  }
  if (gate.conclusion === undefined) throw new RangeError("a completed check run needs a conclusion");
  return { status, conclusion: gate.conclusion, completed_at: new Date().toISOString() };
}

/** Buttons are ours, not user input: a label GitHub would refuse is a bug, so it throws. */
export function validActions(actions: CheckAction[]): CheckAction[] {
  if (actions.length > checkLimits.actions) throw new RangeError(`a check run takes at most ${checkLimits.actions} actions, got ${actions.length}`);
  for (const a of actions) {
    const tooLong: string[] = [];
    if (a.label.length === 0 || a.label.length > checkLimits.actionLabel) tooLong.push(`label (1..${checkLimits.actionLabel})`);
    if (a.description.length === 0 || a.description.length > checkLimits.actionDescription) tooLong.push(`description (1..${checkLimits.actionDescription})`);
    if (a.identifier.length === 0 || a.identifier.length > checkLimits.actionIdentifier) tooLong.push(`identifier (1..${checkLimits.actionIdentifier})`);
    if (tooLong.length > 0) throw new RangeError(`check action "${a.label}": ${tooLong.join(", ")} characters`);
  }
  return actions;
}

function fitAnnotation(a: CheckAnnotation): CheckAnnotation {
  const fitted: CheckAnnotation = {
    path: a.path,
    start_line: a.start_line,
    end_line: Math.max(a.start_line, a.end_line),
    annotation_level: a.annotation_level,
    message: cutToFit(a.message, checkLimits.annotationMessage),
  };
  if (a.title !== undefined) fitted.title = cutToFit(a.title, checkLimits.annotationTitle);
  return fitted;
}

async function heldAnnotations(octokit: InstallationOctokit, at: RepoCoordinates, checkRunId: number): Promise<Set<string>> {
  const held = await octokit.paginate(octokit.rest.checks.listAnnotations, { owner: at.owner, repo: at.repo, check_run_id: checkRunId, per_page: 100 });
  return new Set(
    held.map((a) =>
      annotationKey({
        path: a.path,
        start_line: a.start_line,
        end_line: a.end_line,
        annotation_level: (a.annotation_level ?? "notice") as CheckAnnotation["annotation_level"],
        message: a.message ?? "",
      }),
    ),
  );
}

function annotationKey(a: CheckAnnotation): string {
  return JSON.stringify([a.path, a.start_line, a.end_line, a.annotation_level, a.message]);
}

function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** At most `max` characters, the cut marked so a reader knows text is missing. */
function cutToFit(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = max > cutNote.length * 4 ? cutNote : "…";
  let end = max - note.length;
  // Never split a surrogate pair.
  if (end > 0 && /[\uD800-\uDBFF]/.test(text.charAt(end - 1))) end -= 1;
  return text.slice(0, end) + note;
}

/** The external id of a gate on a pull request no run owns; never a run id, so its buttons mean nothing. */
export const notARunExternalId = "shopfloor:not-a-run";

/**
 * Conclude the gate `success` on a pull request that no run made, in one request. The gate is
 * required on the default branch (`shopfloor protect`), and a required check that never arrives
 * blocks the merge: a person's own pull request must not wait for a gate nobody will run.
 */
export async function passGateForForeignPullRequest(octokit: InstallationOctokit, at: RepoCoordinates, headSha: string, summary: string): Promise<number> {
  const { data } = await octokit.rest.checks.create({
    owner: at.owner,
    repo: at.repo,
    name: gateCheckName,
    head_sha: headSha,
    external_id: notARunExternalId,
    status: "completed",
    conclusion: "success",
    completed_at: new Date().toISOString(),
    output: { title: "Not a Shopfloor run", summary: cutToFit(summary, checkLimits.summary) },
  });
  return data.id;
}

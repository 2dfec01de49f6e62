import { readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { readSettings } from "../config/settings.js";
import type { Run } from "../domain/index.js";
import type { RepoCoordinates } from "../github/octokit.js";
import { runBranch } from "../orchestrator/machine.js";
import { FileRunStore } from "../store/file.js";
import { writeFileAtomic } from "../store/atomic.js";
import { withFileLock } from "../store/lock.js";
import { runGit } from "../workspace/git.js";
import { loadRoleCards } from "../workers/role-card.js";
import { parseRunArgs, runUsage, type RunArgs } from "./args.js";
import { startFactory, type LocalFactory } from "./factory.js";
import { LocalGitHubSchema, nextNumber, type LocalIssue } from "./github-model.js";
import { modelProblems } from "./model-keys.js";
import { findGitHubRemote } from "./publish.js";
import { publishToGitHub } from "./publish-run.js";
import { failingCommands, passed, renderReport } from "./report.js";
import { checkBase, findRepository, localDirs, type LocalRepository } from "./repository.js";
import { RunWatch } from "./run-watch.js";
import { issueOf } from "./task.js";
import { LiveView } from "./view-live.js";
import { PlainView } from "./view-plain.js";

export interface CommandIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  out(line: string): void;
  err(line: string): void;
  /** Whether stdout is a terminal: the live view there, plain lines elsewhere. */
  tty: boolean;
  /** Shopfloor's own directory: the role cards. */
  packageRoot: string;
  /** Calls `stop` on Ctrl-C (SIGINT); returns what unsubscribes it. */
  onInterrupt(stop: () => void): () => void;
}

/** Exit codes: the gate passed; it did not (or the run waits for a person); bad input; stopped by Ctrl-C. */
export const exitCodes = { passed: 0, notPassed: 1, badInput: 2, interrupted: 130 } as const;

/** Refused before anything started, with the reason a person can act on. */
class Refusal extends Error {}

/** The run this process works on: a new issue from the task, or the unfinished one. */
interface Chosen {
  issue: number;
  ref: LocalRepository["ref"];
  /** The new task, with its base; absent when resuming. */
  opened?: LocalIssue;
}

type Dirs = ReturnType<typeof localDirs>;

/**
 * `shopfloor run`: the factory on a local repository.
 * 1. read what was asked and find the repository; one run at a time works in it;
 * 2. choose the run: a new issue from the task, or the unfinished one (--resume);
 * 3. start the engine with the GitHub stand-in; check the config and the model keys;
 * 4. request (or resume) the run and follow it until it ends, waits for a person, or Ctrl-C;
 * 5. write the report, and with --pr open the draft PR on GitHub; exit 0 only on a passing gate.
 */
export async function runCommand(argv: string[], io: CommandIo): Promise<number> {
  const args = parseRunArgs(argv);
  try {
    if (typeof args === "string") throw new Refusal(`${args}\n\nusage: shopfloor ${runUsage}`);
    const repo = await findRepository(resolve(io.cwd, args.repo));
    if (typeof repo === "string") throw new Refusal(repo);
    // What needs no state is checked before the lock, so a mistyped command is answered at once.
    if (args.pr && !io.env.GITHUB_TOKEN) throw new Refusal("--pr needs GITHUB_TOKEN: a token that may push to the repository and open pull requests");
    const dirs = localDirs(repo.gitDir);
    const lock = join(dirs.root, "run.lock");
    // The stand-in's file and the workspace are the repository's: two processes would overwrite each other.
    // A run holds the lock throughout; a few seconds' wait only covers another command that is quickly done.
    return await withFileLock(lock, () => runLocked(args, repo, dirs, io), { pollMs: 50, timeoutMs: 3_000 }).catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith(`lock ${lock} held`)) throw new Refusal(`another shopfloor run is working in ${repo.dir}; one at a time per repository`);
      throw error;
    });
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    io.err(`shopfloor run: ${error.message}`);
    return exitCodes.badInput;
  }
}

async function runLocked(args: RunArgs, repo: LocalRepository, dirs: Dirs, io: CommandIo): Promise<number> {
  const chosen = args.resume ? await unfinishedRun(repo, dirs.state, io) : await newIssue(args, repo, dirs, io);
  const token = io.env.GITHUB_TOKEN;
  const remote = args.pr ? await findGitHubRemote(repo.dir, io.env) : undefined;
  if (typeof remote === "string") throw new Refusal(remote);
  const settings = readSettings({ ...io.env, SHOPFLOOR_STATE_DIR: dirs.state, SHOPFLOOR_WORK_DIR: dirs.work }, io.cwd, io.packageRoot);

  const runId = `${chosen.ref.owner}/${chosen.ref.name}#${chosen.issue}`;
  const watch = new RunWatch(runId, args.approve ? { by: localUser() } : undefined);
  const factory = await startFactory({
    repo: { ...repo, ref: chosen.ref },
    runId,
    issue: chosen.issue,
    settings,
    env: io.env,
    onRun: (run) => watch.saw(run),
    onProgress: (progress) => watch.progress(progress),
    onWrite: (write) => {
      if (write.kind === "pull" && write.pull.draft) watch.note(`Draft pull request #${write.pull.number} (local stand-in): ${write.pull.head} → ${write.pull.base}`);
    },
  });
  try {
    await checkModels(factory, chosen, settings.agentsDir, io.env);
  } catch (error) {
    await factory.stop([], "not started");
    throw error;
  }

  const view = io.tty ? new LiveView() : new PlainView(io.out);
  watch.follow(view, factory.engine);
  const unsubscribe = io.onInterrupt(() => watch.interrupt());
  if (chosen.opened) {
    await factory.github.openIssue(chosen.opened, { keep: true });
    await factory.engine.submit({
      type: "run.requested",
      runId,
      at: new Date().toISOString(),
      deliveryId: `local-${chosen.issue}`,
      repo: { ...chosen.ref, installationId: 0 },
      issue: { number: chosen.issue, title: chosen.opened.title, body: chosen.opened.body },
      sender: localUser(),
    });
  } else {
    // The last process was stopped by the person (Ctrl-C) or died: no other runner has its
    // jobs, and a stop is no failure of the work, so each lost job is sent again as it was.
    await factory.engine.resume({ lostJobs: "sent again" });
  }
  // A resumed run may have nothing left to do: its notes as they are decide.
  const now = await factory.store.load(runId);
  if (now) watch.saw(now);
  const how = await watch.ended;
  unsubscribe();

  const last = await factory.store.load(runId);
  await factory.stop(last?.pending.flatMap((e) => (e.kind === "dispatchJob" ? [e.job.jobId] : [])) ?? [], "stopped from the terminal (Ctrl-C)");
  await view.close();
  if (how === "interrupted" || !last) {
    io.out(`Stopped run #${chosen.issue}; its notes are kept. \`shopfloor run --resume\` in ${repo.dir} picks it up.`);
    return exitCodes.interrupted;
  }
  if (how === "approval") {
    io.out(`The plan of run #${chosen.issue} waits for approval (high risk, or approval.always). Read it above, then: shopfloor run --resume --approve`);
    return exitCodes.notPassed;
  }
  return finish(last, factory, repo, dirs.reports, remote && token ? { at: remote, token } : undefined, io);
}

/** The report, the summary lines, and with --pr the pull request on GitHub. */
async function finish(
  run: Run,
  factory: LocalFactory,
  repo: LocalRepository,
  reports: string,
  pr: { at: RepoCoordinates; token: string } | undefined,
  io: CommandIo,
): Promise<number> {
  const branchSha = await runGit(["rev-parse", "--verify", "--quiet", `refs/heads/${run.branch}`], { cwd: repo.dir }).then((r) => r.stdout.trim(), () => undefined);
  const base = factory.github.issue()?.base ?? run.defaultBranch ?? "";
  const path = join(reports, `${run.branch.replace(/^shopfloor\//, "")}.md`);
  await writeFileAtomic(path, renderReport(run, factory.github.state, { dir: repo.dir, base, branchSha }));
  io.out(`Report: ${path}`);
  if (branchSha) io.out(`Branch: ${run.branch} (git log ${base}..${run.branch})`);
  for (const c of failingCommands(run)) io.out(`Failing: \`${c.cmd}\` (${c.name}) ${c.timedOut ? "timed out" : `exited ${c.exitCode}`}`);
  io.out(passed(run) ? "Gate: success" : run.phase === "gated" ? `Gate: ${run.gate?.conclusion}` : `Stopped: ${run.phase}${run.failure ? ` (${run.failure.reason}: ${run.failure.detail.split("\n")[0]})` : ""}`);
  if (!passed(run)) io.out(`Log: ${factory.log.path}`);
  if (pr) {
    const published = await publishToGitHub(run, factory.github.state, { dir: repo.dir, base, branchSha, ...pr }, io.env);
    io.out(published.line);
    if (!published.ok) return exitCodes.notPassed;
  }
  return passed(run) ? exitCodes.passed : exitCodes.notPassed;
}

/** The configuration the run will read, and a key for each model it names; a Refusal when not. */
async function checkModels(factory: LocalFactory, chosen: Chosen, agentsDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (chosen.opened) await factory.github.openIssue(chosen.opened, { keep: false });
  const outcome = await factory.config();
  if (!outcome.ok) throw new Refusal(`.github/shopfloor.yml on ${factory.github.issue()?.base} is invalid:\n${outcome.errors.map((e) => `  - ${e}`).join("\n")}`);
  const problems = modelProblems(outcome.config, await loadRoleCards(agentsDir), env);
  if (problems.length > 0) throw new Refusal(`the run's models cannot be reached:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
}

async function newIssue(args: RunArgs, repo: LocalRepository, dirs: Dirs, io: CommandIo): Promise<Chosen> {
  let text = args.task;
  if (args.issueFile !== undefined) {
    const file = resolve(io.cwd, args.issueFile);
    text = await readFile(file, "utf8").catch(() => undefined);
    if (text === undefined) throw new Refusal(`cannot read the issue file ${file}`);
  }
  const issue = issueOf(text ?? "");
  if (!issue) throw new Refusal("the task is empty: its first line is the title");
  const base = await checkBase(repo, args.base);
  if (typeof base === "string") throw new Refusal(base);
  const held = LocalGitHubSchema.parse(JSON.parse(await readFile(dirs.github, "utf8").catch(() => "{}")));
  const earlier = (await new FileRunStore(dirs.state).listRuns()).map((id) => Number(id.slice(id.lastIndexOf("#") + 1)));
  const number = Math.max(nextNumber(held), ...earlier.map((n) => n + 1));
  const unfinished = await unfinishedRun(repo, dirs.state).catch(() => undefined);
  if (unfinished) io.err(`Note: run #${unfinished.issue} in this repository is unfinished; \`shopfloor run --resume\` continues it.`);
  io.out(`Run #${number}: ${issue.title} (from ${base.branch} at ${base.sha.slice(0, 12)}, branch ${runBranch(number, issue.title)})`);
  return { issue: number, ref: repo.ref, opened: { ...issue, base: base.branch, createdAt: new Date().toISOString() } };
}

/** The most recently active unfinished run of the repository. */
async function unfinishedRun(repo: LocalRepository, stateDir: string, io?: CommandIo): Promise<Chosen> {
  const store = new FileRunStore(stateDir);
  const runs = (await Promise.all((await store.listActiveRuns()).map((id) => store.load(id)))).filter((r): r is Run => r !== undefined);
  const latest = runs.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
  if (!latest) throw new Refusal(`nothing to resume: ${repo.dir} has no unfinished run`);
  io?.out(`Resuming run #${latest.issue.number}: ${latest.issue.title} (${latest.phase}, branch ${latest.branch})`);
  return { issue: latest.issue.number, ref: { owner: latest.repo.owner, name: latest.repo.name } };
}

/** The person at the terminal, as the run's requester and approver. */
function localUser(): string {
  let name = "";
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): "local" stands in.
  }
  return name.replace(/[^A-Za-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "local";
}

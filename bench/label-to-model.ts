/**
 * Label → first model request on a repository of 5,000 files (500 with --quick) whose mirror is
 * warm: from the signed `issues.labeled` delivery to the planner's first request reaching the
 * scripted model server, through the real app (intake, engine, config read, runner: mirror
 * fetch, worktree at the base commit, the planner's brief). The anchor is what git alone needs
 * for the same step: `git fetch` into a warm bare mirror plus `git worktree add` of the base
 * commit, over the same smart-HTTP origin. Goal: at most 1.5 times the anchor (medians).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { owner, repoName, startApp, type AppHarness } from "../test/kit/app.js";
import type { Turn } from "../test/kit/model-server.js";
import { configYaml, labeledPayload, projectFiles } from "../test/e2e/scenario.js";
import { credentialArgs } from "../src/workspace/credentials.js";
import { runGit } from "../src/workspace/git.js";
import { defineBench, median, ratioRow, round, timed } from "./kit/figure.js";

const GOAL_RATIO = 1.5;

/** Source files in 50 folders, a few hundred bytes each, as a mid-sized service holds them. */
function repositoryFiles(count: number): Record<string, string> {
  const files: Record<string, string> = { ...projectFiles };
  for (let i = 0; i < count - Object.keys(projectFiles).length; i++) {
    const body = Array.from({ length: 12 }, (_, line) => `export const value${line} = ${i * 100 + line}; // module ${i}, line ${line}`).join("\n");
    files[`src/pkg-${i % 50}/module-${i}.js`] = `${body}\n`;
  }
  return files;
}

/** Plain git on its own warm mirror: the anchor. */
async function plainGit(app: AppHarness, scratch: string): Promise<() => Promise<number>> {
  const mirror = join(scratch, "mirror.git");
  const cred = credentialArgs(app.token);
  const url = `${app.git.url}/${owner}/${repoName}.git`;
  await runGit([...cred.args, "clone", "--bare", "--quiet", "--", url, mirror], { cwd: scratch, env: cred.env });
  let n = 0;
  return async () => {
    const worktree = join(scratch, `wt-${++n}`);
    const { ms } = await timed(async () => {
      await runGit([...cred.args, "fetch", "--quiet", "--prune", "--no-tags", "origin", "+refs/heads/*:refs/heads/*"], { cwd: mirror, env: cred.env });
      await runGit(["worktree", "add", "--quiet", "--detach", worktree, app.originSha], { cwd: mirror });
    });
    await runGit(["worktree", "remove", "--force", worktree], { cwd: mirror });
    return ms;
  };
}

export default defineBench({
  title: "label → first model request, warm mirror",
  async run({ quick, log }) {
    const fileCount = quick ? 500 : 5_000;
    const samples = quick ? 3 : 10;
    const scratch = await mkdtemp(join(tmpdir(), "bench-label-"));
    // Each planner request is timed on arrival and refused, which ends its run quickly (escalated).
    const arrivals: number[] = [];
    let arrived: () => void = () => undefined;
    const planner = (): Turn => {
      arrivals.push(performance.now());
      arrived();
      return { error: { status: 400 } };
    };
    let app: AppHarness | undefined;
    try {
      app = await startApp({ script: { "claude-haiku-4-5": Array.from({ length: samples + 1 }, () => planner) }, files: repositoryFiles(fileCount), configYaml });
      app.github.permissions = { Codertocat: "write" };
      const labelToModel = async (issue: number): Promise<number> => {
        const payload = labeledPayload();
        payload.issue.number = issue;
        const reached = new Promise<void>((resolve) => (arrived = resolve));
        const sent = performance.now();
        if ((await app!.deliver("issues", payload)) !== 200) throw new Error(`the label on issue ${issue} was not acknowledged`);
        await reached;
        const ms = arrivals.at(-1)! - sent;
        await app!.waitForRun(`${owner}/${repoName}#${issue}`);
        return ms;
      };
      // The first run clones the mirror: that is the cold case, shown in the log only.
      log(`cold (first run clones the mirror): ${round(await labelToModel(1), 0)} ms`);
      const anchorSample = await plainGit(app, scratch);
      const app_: number[] = [];
      const git: number[] = [];
      for (let i = 0; i < samples; i++) {
        app_.push(await labelToModel(i + 2));
        git.push(await anchorSample());
        log(`sample ${i + 1}: label → model ${round(app_.at(-1)!, 0)} ms; fetch + worktree add ${round(git.at(-1)!, 0)} ms`);
      }
      if (app.github.unexpected.length > 0) throw new Error(`requests GitHub's fake does not model: ${app.github.unexpected.join(", ")}`);
      return [
        ratioRow(
          {
            name: `label → first model request, ${fileCount.toLocaleString("en-US")} files`,
            value: round(median(app_), 0),
            unit: "ms",
            anchor: { name: "git fetch + worktree add", value: round(median(git), 0) },
            note: `median of ${samples} runs after a first one warmed the mirror; GitHub's API answers in-process`,
          },
          GOAL_RATIO,
        ),
      ];
    } finally {
      await app?.close();
      await rm(scratch, { recursive: true, force: true });
    }
  },
});

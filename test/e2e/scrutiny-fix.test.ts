import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { runGit } from "../../src/workspace/git.js";
import { startApp, owner, repoName, type AppHarness } from "../kit/app.js";
import type { ModelScript, RecordedRequest } from "../kit/model-server.js";
import { badFarewell, configYaml, goodFarewell, labeledPayload, projectFiles, reviewerScript } from "./scenario.js";
import { finishTurn, planTurn, runId, writeTurn, quiesce, branch, full } from "./people-kit.js";

let app: AppHarness | undefined;
afterEach(async () => {
  await quiesce(app);
  await app?.close();
  app = undefined;
});



describe("a failing scrutiny is worked on, not only reviewed", () => {
  it("the repository's test fails on a change the generator called ok: a fix attempt gets the failing output, and the gate succeeds", async () => {
    const briefs: string[] = [];
    const script: ModelScript = {
      ...reviewerScript(1),
      "claude-haiku-4-5": [planTurn],
      "gpt-5-mini": [
        writeTurn(badFarewell),
        finishTurn("Implemented farewell"),
        (req: RecordedRequest) => {
          briefs.push(JSON.stringify(req.body.messages));
          return writeTurn(goodFarewell);
        },
        finishTurn("Made the test pass"),
      ],
    };
    app = await startApp({ script, files: projectFiles, configYaml });
    app.github.permissions = { Codertocat: "write" };
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    const run = await app.waitForRun(runId, 90_000);

    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");
    expect(run.scrutinyFixes).toBe(1);
    // The fix generator was told which command failed and saw its output.
    expect(briefs).toHaveLength(1);
    expect(briefs[0]).toContain("npm test");
    expect(briefs[0]).toMatch(/Goodbye, Ann|Bye Ann/);
    // One PR, opened only once the tests passed; the branch holds the fixed code.
    expect(app.github.count("POST", `${full}/pulls`)).toBe(1);
    const shown = await runGit(["show", `${branch}:src/farewell.js`], { cwd: join(app.originRoot, owner, `${repoName}.git`) });
    expect(shown.stdout).toBe(goodFarewell);
    expect(app.github.unexpected).toEqual([]);
  }, 120_000);
});

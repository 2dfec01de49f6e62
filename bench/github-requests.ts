/**
 * GitHub requests per happy-path run: the end-to-end scenario of the suite (plan, one generate
 * subtask, scrutiny, a draft PR, two reviewers of different vendors, the gate `success`, the PR
 * marked ready) through the real app, with GitHub faked at the HTTP boundary. Writes (what a
 * person may be notified of, and what GitHub's content limits count) and reads are counted apart;
 * installation-token requests are neither. Goal: at most 8 writes.
 */
import { startApp, type AppHarness } from "../test/kit/app.js";
import { configYaml, goodFarewell, labeledPayload, projectFiles, script } from "../test/e2e/scenario.js";
import { defineBench, median, type Row } from "./kit/figure.js";

const GOAL_WRITES = 8;

interface Counted {
  writes: string[];
  reads: number;
  tokens: number;
}

async function happyRun(log: (line: string) => void): Promise<Counted> {
  let app: AppHarness | undefined;
  try {
    app = await startApp({ script: script(goodFarewell), files: projectFiles, configYaml });
    app.github.permissions = { Codertocat: "write" };
    if ((await app.deliver("issues", labeledPayload())) !== 200) throw new Error("the labelled issue was not acknowledged");
    const run = await app.waitForRun("Codertocat/Hello-World#1");
    if (run.gate?.conclusion !== "success") throw new Error(`not a happy path: the run ended ${run.phase}, gate ${run.gate?.conclusion ?? "none"}`);
    if (app.github.unexpected.length > 0) throw new Error(`requests GitHub's fake does not model: ${app.github.unexpected.join(", ")}`);
    const lines = app.github.lines();
    const tokens = lines.filter((l) => l.endsWith("/access_tokens")).length;
    const writes = lines.filter((l) => !l.startsWith("GET ") && !l.endsWith("/access_tokens"));
    log(`run of ${Date.parse(run.updatedAt) - Date.parse(run.createdAt)} ms: ${writes.length} writes`);
    for (const w of writes) log(`  ${w}`);
    return { writes, reads: lines.filter((l) => l.startsWith("GET ")).length, tokens };
  } finally {
    await app?.close();
  }
}

export default defineBench({
  title: "GitHub requests per happy-path run",
  async run({ quick, log }) {
    const runs: Counted[] = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(await happyRun(log));
    const most = Math.max(...runs.map((r) => r.writes.length));
    const note = `most of ${runs.length} run(s); the run finishes within one progress-comment window (30 s): a longer run adds at most one comment edit per window`;
    const rows: Row[] = [
      { name: "writes per happy-path run", value: most, unit: "requests", goal: `≤ ${GOAL_WRITES}`, ok: most <= GOAL_WRITES, note },
      { name: "reads per happy-path run", value: median(runs.map((r) => r.reads)), unit: "requests" },
      { name: "installation tokens per run", value: median(runs.map((r) => r.tokens)), unit: "requests" },
    ];
    return rows;
  },
});

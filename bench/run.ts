/**
 * `npm run bench [-- --quick] [--json] [--strict] [--verbose] [name ...]`: every figure module in
 * bench/ (each `*.ts` here but this one), one after the other, each in its own process; then one
 * table of figures next to their anchors, goals and verdicts (or JSON with `--json`).
 *
 * `--quick` uses small counts so CI can run it in a few minutes and it cannot rot; the full bench
 * is for people. A missed goal is printed as a verdict, not a failure: the exit code is non-zero
 * only when a bench failed to run, or with `--strict` also when a goal was missed. Names (file
 * names without `.ts`) pick benches; other arguments reach every bench (`crash --trials 20`).
 */
import { fork } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildMessage } from "./kit/child.js";
import { renderTable, tally, type BenchResult } from "./kit/table.js";

/** The order of the table: the issue's figures first; a new module goes after them, by name. */
const order = ["webhook-ack", "label-to-model", "github-requests", "active-run-memory", "restart-resume", "setup", "runners", "run-list", "crash", "history"];

const dir = fileURLToPath(new URL(".", import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const quick = flag("quick");
const json = flag("json");

const all = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const picked = all.filter((name) => args.includes(name));
const names = picked.length > 0 ? picked : all;
/** Minutes one bench may take before it counts as failed (a hung bench must not hang CI). */
const limitMinutes = Number(valueOf("--limit-minutes") ?? (quick ? 10 : 60));

const results: BenchResult[] = [];
for (const name of names) results.push(await runOne(name));

const { met, missed, failed } = tally(results);
if (json) {
  const policy = "a missed goal is a verdict, not a failure: the exit code is non-zero only when a bench fails to run (with --strict, also when a goal is missed)";
  console.log(JSON.stringify({ mode: quick ? "quick" : "full", strict: flag("strict"), benches: results, summary: { met, missed, failed }, policy }, null, 2));
} else {
  console.log(renderTable(results));
  console.log("");
  console.log(`${met} goal(s) met, ${missed} missed, ${failed} bench(es) failed to run${quick ? " — quick mode: small counts, the figures are indicative" : ""}.`);
  console.log("A missed goal is a verdict, not a failure: the exit code is non-zero only when a bench fails to run (with --strict, also when a goal is missed).");
}
process.exitCode = failed > 0 || (flag("strict") && missed > 0) ? 1 : 0;

function rank(name: string): number {
  const i = order.indexOf(name);
  return i === -1 ? order.length : i;
}

function valueOf(option: string): string | undefined {
  const i = args.indexOf(option);
  return i === -1 ? undefined : args[i + 1];
}

/** One bench in its own process group (its own children go with it on a timeout), its output kept. */
function runOne(name: string): Promise<BenchResult> {
  const started = performance.now();
  const output: string[] = [];
  const echo = (line: string) => {
    output.push(line);
    if (flag("verbose")) process.stderr.write(`  [${name}] ${line}\n`);
  };
  process.stderr.write(`bench ${name} ...\n`);
  const child = fork(join(dir, "kit", "child.ts"), [join(dir, `${name}.ts`), ...args], {
    execArgv: ["--import", "tsx", "--expose-gc"],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    detached: true,
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = "";
    stream.on("data", (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split("\n");
      rest = lines.pop()!;
      for (const line of lines) echo(line);
    });
  }
  let message: ChildMessage | undefined;
  child.on("message", (m) => (message = m as ChildMessage));
  const timer = setTimeout(() => {
    echo(`killed after ${limitMinutes} min`);
    process.kill(-child.pid!, "SIGKILL");
  }, limitMinutes * 60_000);
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      // What the bench started and left behind (runner processes, app children) goes with it.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // The group is already gone.
      }
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      const base = { name, title: message?.kind === "rows" ? message.title : name, seconds, rows: message?.kind === "rows" ? message.rows : [] };
      let result: BenchResult;
      if (message?.kind === "rows" && code === 0) result = { ...base, status: "ok" };
      else if (message?.kind === "script" && code === 0) result = { ...base, status: "script" };
      else {
        const error = message?.kind === "error" ? message.error : `the bench process ended with ${signal ?? `exit ${code}`} before answering`;
        result = { ...base, status: "failed", error };
      }
      const verdict = result.status === "failed" ? `FAILED: ${result.error!.split("\n")[0]}` : "done";
      process.stderr.write(`bench ${name}: ${verdict} (${seconds} s)\n`);
      // What a failed or self-printing bench said is the only account of it.
      if (result.status !== "ok" && !flag("verbose")) {
        for (const line of output.slice(-40)) process.stderr.write(`  [${name}] ${line}\n`);
        if (result.error) process.stderr.write(`${result.error.replace(/^/gm, `  [${name}] `)}\n`);
      }
      resolve(result);
    });
  });
}

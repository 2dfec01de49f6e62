/**
 * Runs every benchmark in bench/ (each `*.ts` but this one), one after the other, passing the
 * arguments through: `npm run bench -- --trials 50`. Exits non-zero if any benchmark did.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const dir = fileURLToPath(new URL(".", import.meta.url));
const scripts = readdirSync(dir)
  .filter((name) => name.endsWith(".ts") && name !== "run.ts")
  .sort();
let failed = 0;
for (const name of scripts) {
  console.log(`\n== bench/${name} ==`);
  const { status, signal } = spawnSync(process.execPath, ["--import", "tsx", join(dir, name), ...process.argv.slice(2)], { stdio: "inherit" });
  if (status !== 0) {
    failed++;
    console.log(`bench/${name} ended with ${signal ?? `exit ${status}`}`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;

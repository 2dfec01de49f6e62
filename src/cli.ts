#!/usr/bin/env node
import { createProbot, run } from "probot";
import { RedisRunStore } from "./store/redis.js";
import { startRunner } from "./queue/bullmq.js";
import { createRunner } from "./runner.js";
import type { InstallationOctokit } from "./github/octokit.js";
import shopfloor, { meteredOctokit } from "./index.js";
import { protectCommand, protectUsage } from "./cli/protect.js";
import { doctor } from "./cli/doctor.js";
import { parseDoctorArgs } from "./cli/workflow-audit.js";
import { readSettings } from "./config/settings.js";
import { ShopfloorOctokit } from "./github/rate-limits.js";
import { webhookSecretRefusal } from "./cli/webhook-secret.js";
import { replayCommand, replayUsage } from "./cli/replay.js";
import { runUsage } from "./local/args.js";
import { runCommand } from "./local/run-command.js";

const usage = `usage: shopfloor serve | runner | run | doctor | protect | replay

  serve   run the GitHub App: webhooks, engine and an in-process runner pool. Refuses to start
          without WEBHOOK_SECRET. Without APP_ID, Probot's setup page registers the App from app.yml.

  runner  a runner node for distributed mode: takes jobs from BullMQ on REDIS_URL and runs them
          here (mirrors, worktrees, sandbox, models). Needs the App's APP_ID and private key to mint
          repo-scoped tokens; SHOPFLOOR_RUNNER_CONCURRENCY jobs at once. It shows in queue health
          (/metrics, doctor) as SHOPFLOOR_RUNNER_NAME, or host:pid.

  ${runUsage}

  doctor [--repo <owner/name>]
          check this machine (git, bubblewrap, ripgrep, keys, state and work dirs, Redis when
          REDIS_URL is set) and list orphaned worktrees. With --repo, also list the repo's
          workflows that run agent code (shopfloor/* pushes, their PRs) with secrets in reach;
          read as the App's installation, or with GITHUB_TOKEN. Exits 1 when a check fails.

  ${protectUsage.replace(/\n/g, "\n  ")}

  ${replayUsage}`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === "serve" || command === undefined) {
    const refusal = webhookSecretRefusal(process.env, process.cwd());
    if (refusal) {
      console.error(`shopfloor serve: ${refusal}`);
      return 2;
    }
    // Every client Probot builds counts its GitHub requests and rate limit on /metrics.
    await run(shopfloor, { Octokit: ShopfloorOctokit.plugin(meteredOctokit) });
    return -1;
  }
  if (command === "runner") {
    const url = process.env.REDIS_URL;
    if (!url) {
      console.error("shopfloor runner needs REDIS_URL: runner nodes take their jobs from BullMQ over Redis.");
      return 2;
    }
    const settings = readSettings();
    const probot = createProbot({ overrides: { Octokit: ShopfloorOctokit } });
    const store = await RedisRunStore.connect(url);
    const handler = await createRunner({
      settings,
      appOctokit: () => probot.auth() as Promise<InstallationOctokit>,
      onProgress: (runId, progress) => void store.recordProgress(runId, progress).catch(() => undefined),
    });
    const runner = startRunner({ connection: { url }, handler, concurrency: settings.runnerConcurrency });
    console.log(`shopfloor runner: taking jobs from ${url.replace(/\/\/[^@]*@/, "//***@")}, ${settings.runnerConcurrency} at a time, as ${runner.name}`);
    process.once("SIGTERM", () => void runner.close().then(() => process.exit(0)));
    process.once("SIGINT", () => void runner.close().then(() => process.exit(0)));
    return -1;
  }
  if (command === "doctor") {
    const args = parseDoctorArgs(argv.slice(1));
    if (typeof args === "string") {
      console.error(`shopfloor doctor: ${args}\n\n${usage}`);
      return 2;
    }
    const settings = readSettings();
    const report = await doctor({ env: process.env, stateDir: settings.stateDir, workDir: settings.workDir, agentsDir: settings.agentsDir, log: (line) => console.log(line), ...args });
    return report.ok ? 0 : 1;
  }
  if (command === "run") {
    return runCommand(argv.slice(1), {
      env: process.env,
      cwd: process.cwd(),
      out: (line) => console.log(line),
      err: (line) => console.error(line),
      tty: process.stdout.isTTY === true,
      packageRoot: new URL("..", import.meta.url).pathname,
      onInterrupt: (stop) => {
        // The first Ctrl-C stops cleanly; a second one does not wait for that.
        const handler = () => {
          process.once("SIGINT", () => process.exit(130));
          stop();
        };
        process.once("SIGINT", handler);
        return () => process.removeListener("SIGINT", handler);
      },
    });
  }
  if (command === "replay") {
    return replayCommand(argv.slice(1), process.env, process.cwd(), (line) => console.log(line), (line) => console.error(line));
  }
  if (command === "protect") {
    return protectCommand(argv.slice(1), process.env, (line) => console.log(line), (line) => console.error(line));
  }
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(usage);
    return 0;
  }
  console.error(`unknown command: ${command}\n\n${usage}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);

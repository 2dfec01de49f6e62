#!/usr/bin/env node
import { run } from "probot";
import shopfloor from "./index.js";
import { protectCommand, protectUsage } from "./cli/protect.js";

const usage = `usage: shopfloor serve | protect

  serve   run the GitHub App: webhooks, engine and an in-process runner pool.
          Without APP_ID and a private key, Probot's setup page registers the App from app.yml.

  ${protectUsage.replace(/\n/g, "\n  ")}`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === "serve" || command === undefined) {
    await run(shopfloor);
    return -1;
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

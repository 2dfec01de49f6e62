/**
 * One app replica of a cluster test: `node --import tsx test/kit/cluster-app.ts`, configured by
 * its environment alone (REDIS_URL, GHE_HOST, PORT, …) as `shopfloor serve` is. It differs from
 * `shopfloor serve` in one way: Octokit's write spacing (1–3 s per write, for GitHub's secondary
 * limits) is off, as in every other app test, so a trial takes seconds, not minutes.
 */
import { createInterface } from "node:readline";
import { run, ProbotOctokit } from "probot";
import { createShopfloor } from "../../src/index.js";

// The test holds stdin open; if it dies without killing this process, the app must not linger.
const stdin = createInterface({ input: process.stdin });
stdin.on("close", () => process.exit(0));
// A warm spare (cluster-process.ts): loaded now, started when the test writes a line.
if (process.env.SHOPFLOOR_KIT_WAIT_FOR_GO === "1") await new Promise((resolve) => stdin.once("line", resolve));

const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
let ready!: () => void;
const isReady = new Promise<void>((resolve) => (ready = resolve));
// The function form matters: Probot passes its own `throttle` options, which would replace an object default.
const Octokit = ProbotOctokit.defaults((options: ConstructorParameters<typeof ProbotOctokit>[0]) => ({
  ...options,
  throttle: { ...options?.throttle, enabled: false },
  retry: { enabled: false },
}));
await run(createShopfloor(() => ready()), { env, Octokit });
await isReady;
// The line cluster.ts waits for: the app listens and has resumed its runs.
process.stdout.write("shopfloor-cluster-app ready\n");

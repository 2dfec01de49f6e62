/**
 * The real app in a process of its own, so a crash test can SIGKILL it:
 * `node --import tsx test/kit/crash-child.ts <setup.json>`, or with `--wait` and no path, which
 * loads the modules first and starts the app only when the setup path arrives as a line on stdin:
 * a warm process, so a restart begins the moment the previous process dies.
 *
 * GitHub is the nock fake, hosted here because nock only intercepts in-process; its state lives
 * in a file so it survives the kill, as GitHub survives a crashed app. The git origin and the
 * model server live in the parent.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import nock from "nock";
import { run, ProbotOctokit } from "probot";
import { createShopfloor } from "../../src/index.js";
import { FakeGitHub } from "./github.js";

export interface CrashChildSetup {
  /** GitHub's API base as the app sees it, e.g. http://127.0.0.1:PORT/api/v3. */
  apiBase: string;
  repo: { owner: string; name: string; defaultBranch: string };
  /** The installation token the fake mints, which the git origin accepts. */
  token: string;
  /** Where the fake GitHub keeps its state across kills. */
  statePath: string;
  /** Applied to the fake only the first time (no state yet). */
  permissions: Record<string, string>;
  configYaml: string;
  appPort: number;
  modelPort: number;
  /** The app's environment: Probot's settings, Shopfloor's dirs, model base URLs and keys. */
  env: Record<string, string>;
}

/** The line the child prints once the app listens and has resumed its runs (crash.ts waits for it). */
const readyLine = "shopfloor-crash-child ready";

const arg = process.argv[2];
if (!arg) throw new Error("usage: crash-child.ts <setup.json> | --wait");
const setupPath = arg === "--wait" ? await firstLine() : arg;
if (arg === "--wait") {
  // The parent holds stdin open; if it dies without killing us, the app must not linger.
  process.stdin.on("end", () => process.exit(0)).resume();
}
const setup = JSON.parse(readFileSync(setupPath, "utf8")) as CrashChildSetup;

const github = new FakeGitHub(setup.apiBase, setup.repo, setup.token, { statePath: setup.statePath });
if (!github.restored) {
  github.permissions = setup.permissions;
  github.configYaml = setup.configYaml;
}
nock.disableNetConnect();
nock.enableNetConnect((host) => host === `127.0.0.1:${setup.appPort}` || host === `127.0.0.1:${setup.modelPort}`);

Object.assign(process.env, setup.env);
let ready!: () => void;
const isReady = new Promise<void>((resolve) => (ready = resolve));
// GitHub's secondary-limit spacing (1-3 s per write) is Octokit's; tests need not wait for it.
// The function form matters: Probot passes its own `throttle` options to the constructor, which
// would replace an object default `{ throttle: { enabled: false } }` and leave throttling on.
const Octokit = ProbotOctokit.defaults((options: ConstructorParameters<typeof ProbotOctokit>[0]) => ({
  ...options,
  throttle: { ...options?.throttle, enabled: false },
  retry: { enabled: false },
}));
await run(createShopfloor(() => ready()), { env: setup.env, Octokit });
await isReady;
process.stdout.write(`${readyLine}\n`);

function firstLine(): Promise<string> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    lines.once("line", (line) => {
      lines.close();
      resolve(line.trim());
    });
  });
}

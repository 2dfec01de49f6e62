import { generateKeyPairSync, randomBytes } from "node:crypto";
import { sendDelivery } from "../../src/cli/replay.js";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { run, ProbotOctokit } from "probot";
type Server = Awaited<ReturnType<typeof run>>;
import { createShopfloor, type Shopfloor } from "../../src/index.js";
import { RunSchema, terminalPhases, type Run } from "../../src/domain/index.js";
import { startGitServer, makeOriginRepo, type GitServer } from "./git-server.js";
import { startModelServer, type ModelScript, type ModelServer } from "./model-server.js";
import { FakeGitHub } from "./github.js";
import { freePort } from "./port.js";
import { owner, repoName, defaultBranch, webhookSecret } from "./names.js";

export { owner, repoName, defaultBranch, installationId, webhookSecret } from "./names.js";

export interface AppHarness {
  url: string;
  stateDir: string;
  workDir: string;
  originRoot: string;
  originSha: string;
  git: GitServer;
  github: FakeGitHub;
  models: ModelServer;
  token: string;
  /** POST a signed webhook to the running app, as GitHub would. Returns the HTTP status. */
  deliver(name: string, payload: unknown, deliveryId?: string): Promise<number>;
  /** Wait until the run is finished and nothing it decided is still pending. */
  waitForRun(runId: string, timeoutMs?: number): Promise<Run>;
  readRun(runId: string): Promise<Run | undefined>;
  close(): Promise<void>;
}

/**
 * The real app (Probot server, engine, runner pool) on loopback, with a real git origin over
 * smart HTTP, the scripted model server, and GitHub's API faked with nock.
 */
export async function startApp(opts: {
  script: ModelScript;
  files: Record<string, string>;
  configYaml?: string;
  env?: Record<string, string>;
  /** Other loopback hosts ("127.0.0.1:PORT") the app's own process may reach: a package registry behind the egress proxy. */
  netConnect?: string[];
  /** The client class Probot builds, instead of the kit's (no throttling, no retries): `shopfloor serve`'s, say. */
  Octokit?: typeof ProbotOctokit;
}): Promise<AppHarness> {
  const root = await mkdtemp(join(tmpdir(), "shopfloor-e2e-"));
  const originRoot = join(root, "origin");
  const stateDir = join(root, "state");
  const workDir = join(root, "work");
  const token = `ghs_${randomBytes(18).toString("hex")}`;
  const originSha = await makeOriginRepo(originRoot, owner, repoName, opts.files, { branch: defaultBranch });
  const git = await startGitServer({ root: originRoot, token });
  const models = await startModelServer(opts.script);
  const port = await freePort();
  const host = `127.0.0.1:${git.port}`;
  const github = new FakeGitHub(`http://${host}/api/v3`, { owner, name: repoName, defaultBranch }, token);
  if (opts.configYaml !== undefined) github.configYaml = opts.configYaml;
  nock.disableNetConnect();
  nock.enableNetConnect((h) => h === `127.0.0.1:${port}` || h === `127.0.0.1:${new URL(models.url).port}` || (opts.netConnect ?? []).includes(h));

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const env: Record<string, string> = {
    APP_ID: "1234",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: webhookSecret,
    GHE_HOST: host,
    GHE_PROTOCOL: "http",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: process.env.KIT_LOG_LEVEL ?? "fatal",
    LOG_FORMAT: "json",
    SHOPFLOOR_STATE_DIR: stateDir,
    SHOPFLOOR_WORK_DIR: workDir,
    ANTHROPIC_BASE_URL: models.url,
    ANTHROPIC_API_KEY: "sk-ant-kit-key-never-leaks",
    OPENAI_BASE_URL: `${models.url}/v1`,
    OPENAI_API_KEY: "sk-openai-kit-key-never-leaks",
    SHOPFLOOR_COMMAND_TIMEOUT_MS: "60000",
    // Reconciliation reads GitHub at start; tests that exercise it turn it on.
    SHOPFLOOR_RECONCILE_EVERY: "0",
    SHOPFLOOR_RETRY_BASE_MS: "50",
    // Exact write counts must not depend on how fast this machine runs a run: edits wait past any test's run.
    SHOPFLOOR_PROGRESS_EVERY_MS: "120000",
    ...opts.env,
  };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let ready!: (shopfloor: Shopfloor) => void;
  const isReady = new Promise<Shopfloor>((r) => (ready = r));
  // GitHub's secondary-limit spacing (1-3 s per write) is Octokit's; tests need not wait for it.
  // The function form: Probot passes its own `throttle` options, which would replace an object default.
  const Octokit =
    opts.Octokit ??
    ProbotOctokit.defaults((options: ConstructorParameters<typeof ProbotOctokit>[0]) => ({
      ...options,
      throttle: { ...options?.throttle, enabled: false },
      retry: { enabled: false },
    }));
  const server: Server = await run(createShopfloor((shopfloor) => ready(shopfloor)), { env, Octokit });
  const shopfloor = await isReady;

  const readRun = async (runId: string): Promise<Run | undefined> => {
    const [o, rest] = runId.split("/") as [string, string];
    const [r, n] = rest.split("#") as [string, string];
    const text = await readFile(join(stateDir, "runs", o, r, n, "run.json"), "utf8").catch(() => undefined);
    return text ? RunSchema.parse(JSON.parse(text)) : undefined;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    stateDir,
    workDir,
    originRoot,
    originSha,
    git,
    github,
    models,
    token,
    readRun,
    async deliver(name, payload, deliveryId = randomBytes(8).toString("hex")) {
      return (await sendDelivery(`http://127.0.0.1:${port}/api/github/webhooks`, webhookSecret, { event: name, id: deliveryId, payload })).status;
    },
    async waitForRun(runId, timeoutMs = 90_000) {
      const started = Date.now();
      for (;;) {
        const run = await readRun(runId);
        if (run && terminalPhases.includes(run.phase) && run.pending.length === 0) return run;
        if (Date.now() - started > timeoutMs) throw new Error(`run ${runId} did not finish: ${JSON.stringify(run?.phase)} pending ${run?.pending.map((p) => p.key).join(", ")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      // Stop the engine and let what it is writing finish before the directories go.
      shopfloor.monitor.stop();
      shopfloor.engine.stop();
      shopfloor.closeLive();
      // A job may hang on a scripted `hang` turn; give writes in flight a moment, not forever.
      await Promise.race([shopfloor.engine.idle(), new Promise((r) => setTimeout(r, 3_000))]);
      await server.stop();
      await git.close();
      await models.close();
      github.close();
      nock.enableNetConnect();
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
      await rm(root, { recursive: true, force: true });
    },
  };
}


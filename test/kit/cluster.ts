/**
 * A Shopfloor cluster on one machine, from real processes: redis-server with AOF, GitHub (the
 * fake API and a git origin behind one port, in a process of its own), app replicas running the
 * real app with SHOPFLOOR_EMBEDDED_RUNNER=0, and `shopfloor runner` nodes (src/cli.ts, unchanged)
 * with the scripted models. Each node can be SIGKILLed and started again in its slot. Every
 * process preloads job-clock.ts, so the test learns when each job ran where.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RedisRunStore } from "../../src/store/redis.js";
import type { Run } from "../../src/domain/index.js";
import type { JournalEntry } from "../../src/store/run-store.js";
import { configYaml, labeledPayload, projectFiles } from "../e2e/scenario.js";
import { deliverWebhook, scenarioModels, statelessScript } from "./crash.js";
import { nodeProcess, redisProcess, type NodeProcess, type RedisProcess } from "./cluster-process.js";
import { makeOriginRepo } from "./git-server.js";
import { readFakeGitHubState, type FakeGitHubState } from "./github.js";
import type { GitHubHostSetup } from "./github-host.js";
import type { JobClockLine } from "./job-clock.js";
import { startModelServer, type ModelServer } from "./model-server.js";
import { freePort } from "./port.js";

export const owner = "Codertocat";
export const repoName = "Hello-World";
const root = fileURLToPath(new URL("../..", import.meta.url));
const kit = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export interface ClusterOptions {
  apps?: number;
  runners?: number;
  /**
   * How long the models think before each answer (default 1 s): jobs then outlast a replica's
   * restart, as real jobs (minutes) do, so a restart meets jobs that are still running.
   */
  modelDelayMs?: number;
}

export interface Cluster {
  dir: string;
  redis: RedisProcess;
  apps: (NodeProcess & { port: number })[];
  runners: NodeProcess[];
  /** The bare origin repo every node pushes to. */
  originBare: string;
  /** POST a signed `issues.labeled` delivery for `issue` to an app; 0 when the connection failed. */
  deliver(app: number, deliveryId: string, issue: number): Promise<number>;
  /** The run's notes as Redis holds them; undefined while there is none or Redis is away. */
  readRun(runId: string): Promise<Run | undefined>;
  journal(runId: string): Promise<JournalEntry[]>;
  github(): FakeGitHubState | undefined;
  /** Every job start and end recorded so far, by every process. */
  jobLines(): Promise<JobClockLine[]>;
  /** When each killed pid was killed (a job it had open ended then). */
  readonly killedAt: Map<number, number>;
  kill(node: NodeProcess): Promise<void>;
  /** Stops everything; the directory (logs, job clock, origin, GitHub's state) stays when `keep` or SHOPFLOOR_CHAOS_KEEP=1. */
  close(keep?: boolean): Promise<void>;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), "shopfloor-chaos-"));
  await mkdir(join(dir, "logs"));
  const logPath = (name: string) => join(dir, "logs", `${name}.log`);
  const jobLog = join(dir, "jobs.jsonl");
  const token = `ghs_${randomBytes(18).toString("hex")}`;
  const closers: (() => Promise<void>)[] = [];
  const killedAt = new Map<number, number>();
  try {
    const redis = await redisProcess(await mkdtemp(join(dir, "redis-")), logPath("redis"));
    await redis.start();
    closers.push(() => redis.kill());

    const originRoot = join(dir, "origin");
    await makeOriginRepo(originRoot, owner, repoName, projectFiles, { branch: "master" });
    const hostSetup: GitHubHostSetup = {
      originRoot,
      repo: { owner, name: repoName, defaultBranch: "master" },
      token,
      statePath: join(dir, "github.json"),
      permissions: { Codertocat: "write" },
      configYaml,
    };
    await writeFile(join(dir, "github-host.json"), JSON.stringify(hostSetup));
    const githubHost = nodeProcess({
      name: "github",
      args: ["--import", "tsx", kit("./github-host.ts"), join(dir, "github-host.json")],
      env: process.env as Record<string, string>,
      cwd: root,
      readyText: "shopfloor-github-host ready on port",
      logPath: logPath("github"),
    });
    await githubHost.start();
    closers.push(() => githubHost.close());
    const githubPort = Number(/ready on port (\d+)/.exec(await readFile(logPath("github"), "utf8"))?.[1]);

    const models = await startModelServer(statelessScript(await scenarioModels(), 100_000));
    closers.push(() => models.close());
    const thinking = await delayedProxy(models, opts.modelDelayMs ?? Number(process.env.SHOPFLOOR_CHAOS_MODEL_DELAY_MS ?? 1000));
    closers.push(() => new Promise((r) => (thinking.close(() => r()), thinking.closeAllConnections())));
    const modelUrl = `http://127.0.0.1:${(thinking.address() as AddressInfo).port}`;

    const { privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const common: Record<string, string> = {
      ...(process.env as Record<string, string>),
      APP_ID: "1234",
      PRIVATE_KEY: privateKey,
      WEBHOOK_SECRET: "kit-webhook-secret",
      GHE_HOST: `127.0.0.1:${githubPort}`,
      GHE_PROTOCOL: "http",
      REDIS_URL: redis.url,
      LOG_LEVEL: process.env.KIT_LOG_LEVEL ?? "warn",
      LOG_FORMAT: "json",
      ANTHROPIC_BASE_URL: modelUrl,
      ANTHROPIC_API_KEY: "sk-ant-kit-key-never-leaks",
      OPENAI_BASE_URL: `${modelUrl}/v1`,
      OPENAI_API_KEY: "sk-openai-kit-key-never-leaks",
      SHOPFLOOR_COMMAND_TIMEOUT_MS: "60000",
      // Sweeps (stalls, orphans, reconciliation) fall inside a trial, several times.
      SHOPFLOOR_MONITOR_INTERVAL_MS: "2000",
      SHOPFLOOR_RETRY_BASE_MS: "1000",
      SHOPFLOOR_KIT_JOB_LOG: jobLog,
    };
    const preload = ["--import", "tsx", "--import", kit("./job-clock.ts")];
    const apps: Cluster["apps"] = [];
    for (let i = 1; i <= (opts.apps ?? 2); i++) {
      const port = await freePort();
      const env = {
        ...common,
        PORT: String(port),
        HOST: "127.0.0.1",
        SHOPFLOOR_EMBEDDED_RUNNER: "0",
        SHOPFLOOR_STATE_DIR: join(dir, `app-${i}`, "state"),
        SHOPFLOOR_WORK_DIR: join(dir, `app-${i}`, "work"),
        SHOPFLOOR_KIT_WAIT_FOR_GO: "1",
      };
      // Warm: a restarted replica is back in well under a second, while jobs it sent still run.
      const app = nodeProcess({
        name: `app ${i}`,
        args: [...preload, kit("./cluster-app.ts")],
        env,
        warm: true,
        cwd: root,
        readyText: "shopfloor-cluster-app ready",
        logPath: logPath(`app-${i}`),
      });
      apps.push(Object.assign(app, { port }));
      closers.push(() => app.close());
    }
    const runners: NodeProcess[] = [];
    for (let i = 1; i <= (opts.runners ?? 3); i++) {
      const env = {
        ...common,
        SHOPFLOOR_STATE_DIR: join(dir, `runner-${i}`, "state"),
        SHOPFLOOR_WORK_DIR: join(dir, `runner-${i}`, "work"),
        SHOPFLOOR_KIT_EXIT_WITH_PARENT: "1",
      };
      // The real `shopfloor runner`, as `npx tsx src/cli.ts runner` starts it, with the job clock preloaded.
      const runner = nodeProcess({
        name: `runner ${i}`,
        args: [...preload, join(root, "src", "cli.ts"), "runner"],
        env,
        cwd: root,
        readyText: "shopfloor runner: taking jobs",
        logPath: logPath(`runner-${i}`),
      });
      runners.push(runner);
      closers.push(() => runner.close());
    }
    // Loaded side by side: two cores, seven processes.
    await Promise.all([...apps, ...runners].map((n) => n.start()));

    const store = await RedisRunStore.connect(redis.url);
    closers.push(() => store.close());
    return {
      dir,
      redis,
      apps,
      runners,
      originBare: join(originRoot, owner, `${repoName}.git`),
      deliver: (app, deliveryId, issue) => deliverWebhook(apps[app]!.port, deliveryId, issuePayload(issue)),
      readRun: (runId) => store.load(runId).catch(() => undefined),
      journal: (runId) => store.journal(runId).catch(() => []),
      github: () => readFakeGitHubState(hostSetup.statePath),
      async jobLines() {
        const text = await readFile(jobLog, "utf8").catch(() => "");
        return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as JobClockLine);
      },
      killedAt,
      async kill(node) {
        if (node.pid !== undefined) killedAt.set(node.pid, Date.now());
        await node.kill();
      },
      async close(keep = false) {
        for (const close of closers.reverse()) await close().catch(() => undefined);
        if (!keep && process.env.SHOPFLOOR_CHAOS_KEEP !== "1") await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

/** The scenario's labelled issue, as issue number `issue` (each run gets its own branch and PR). */
export function issuePayload(issue: number): unknown {
  const payload = labeledPayload();
  payload.issue = { ...payload.issue, number: issue, id: 1_000_000 + issue, node_id: `I_kit${issue}`, html_url: `https://github.example/${owner}/${repoName}/issues/${issue}` };
  return payload;
}

/** The model server, answering each request `delayMs` later: a model that thinks. */
async function delayedProxy(models: ModelServer, delayMs: number): Promise<Server> {
  const target = new URL(models.url);
  const server = createServer((req, res) => {
    setTimeout(() => {
      const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on("error", () => res.destroy());
      req.pipe(out);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

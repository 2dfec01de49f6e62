/**
 * Chaos trials on a cluster (cluster.ts): each trial labels a few issues, delivers every webhook
 * to both app replicas (duplicates by design), and at a random moment SIGKILLs a runner in the
 * middle of a job, or an app replica, or redis-server, then starts it again. A trial is ok when
 * every run ends gated with one branch, one PR, one progress comment and one concluded gate
 * check (chaos-checks.ts), no job ran twice at once, and no process died that was not killed.
 */
import { randomBytes } from "node:crypto";
import { terminalPhases } from "../../src/domain/index.js";
import { checkRun, jobSpans, overlaps, runIdOf, stillRunning } from "./chaos-checks.js";
import { startCluster, type Cluster } from "./cluster.js";
import type { NodeProcess } from "./cluster-process.js";

export type Fault = "none" | "runner" | "app" | "redis";

export interface ChaosTrial {
  trial: number;
  fault: Fault;
  /** What was hit and what it was doing: "runner 2 (pid 123) in build:impl:g0a1". */
  target: string;
  /** When the kill came, after the first delivery was sent. */
  atMs: number;
  /** How long the killed process stayed down before it was started again. */
  downMs: number;
  /** From the first delivery until every run of the trial was finished. */
  finishMs: number;
  outcome: "ok" | "problem";
  details: string[];
}

export interface ChaosOptions {
  trials: number;
  /** Issues labelled per trial, whose runs go on side by side (default 3). */
  issues?: number;
  seed?: number;
  log?: (line: string) => void;
  /** How long a trial's runs may take after the fault before it fails (default 180 s: a killed runner's job waits out BullMQ's 30 s lock and stall check). */
  finishTimeoutMs?: number;
}

const faults: Fault[] = ["runner", "app", "redis"];

export async function chaosTrials(opts: ChaosOptions): Promise<ChaosTrial[]> {
  const seed = opts.seed ?? Number(process.env.SHOPFLOOR_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const random = mulberry32(seed);
  const log = opts.log ?? (() => undefined);
  const cluster = await startCluster();
  log(`chaos: seed ${seed}, ${cluster.apps.length} app replicas, ${cluster.runners.length} runners, redis ${cluster.redis.url}, dir ${cluster.dir}`);
  const trials: ChaosTrial[] = [];
  try {
    log(header());
    // The calibration trial: no fault. Its time sets how far into a trial kills may land.
    const clean = await runTrial(cluster, { trial: 0, fault: "none", atMs: 0, downMs: 0 }, opts, random);
    trials.push(clean);
    log(row(clean));
    const span = clean.outcome === "ok" ? clean.finishMs : 20_000;
    for (let trial = 1; trial <= opts.trials; trial++) {
      const fault = faults[(trial - 1) % faults.length]!;
      // Redis stays away up to 4 s (webhooks meet it down, locks outlive it); a node up to 1.5 s.
      const downMs = Math.round(random() * (fault === "redis" ? 4000 : 1500));
      const outcome = await runTrial(cluster, { trial, fault, atMs: Math.round(random() * span), downMs }, opts, random);
      trials.push(outcome);
      log(row(outcome));
    }
  } finally {
    const keep = trials.some((t) => t.outcome !== "ok");
    await cluster.close(keep);
    if (keep) log(`kept ${cluster.dir}: logs/ of every process, jobs.jsonl (the job clock), github.json, origin/`);
  }
  return trials;
}

export function summarize(trials: ChaosTrial[]): string {
  const ok = trials.filter((t) => t.outcome === "ok").length;
  const by = faults.map((f) => {
    const of = trials.filter((t) => t.fault === f);
    return `${f} ${of.filter((t) => t.outcome === "ok").length}/${of.length}`;
  });
  return `chaos trials: ${trials.length} (calibration included), ok: ${ok}, problems: ${trials.length - ok}; ok by fault: ${by.join(", ")}`;
}

function header(): string {
  return `${"trial".padStart(5)}  ${"fault".padEnd(6)}  ${"at ms".padStart(6)}  ${"down ms".padStart(7)}  ${"finish ms".padStart(9)}  target / outcome`;
}

export function row(t: ChaosTrial): string {
  const detail = t.outcome === "ok" ? "ok" : `PROBLEM:\n        ${t.details.join("\n        ")}`;
  return `${String(t.trial).padStart(5)}  ${t.fault.padEnd(6)}  ${String(t.atMs).padStart(6)}  ${String(t.downMs).padStart(7)}  ${String(t.finishMs).padStart(9)}  ${t.target}: ${detail}`;
}

async function runTrial(cluster: Cluster, t: { trial: number; fault: Fault; atMs: number; downMs: number }, opts: ChaosOptions, random: () => number): Promise<ChaosTrial> {
  const count = opts.issues ?? Number(process.env.SHOPFLOOR_CHAOS_ISSUES ?? 3);
  const issues = Array.from({ length: count }, (_, i) => t.trial * 10 + i + 1);
  const runIds = new Set(issues.map(runIdOf));
  const unexpectedBefore = cluster.github()?.unexpected.length ?? 0;
  const problems: string[] = [];
  const t0 = Date.now();
  const deliveries = issues.map((issue) => ({ issue, id: `chaos-${t.trial}-${issue}-${randomBytes(3).toString("hex")}`, accepted: false }));
  const send = async (d: (typeof deliveries)[number], app: number) => {
    // GitHub counts any 2xx as delivered (Probot answers 202 to a handler that outlives 9 s).
    const status = await cluster.deliver(app, d.id, d.issue);
    if (status >= 200 && status < 300) d.accepted = true;
  };
  // Every delivery goes to both replicas at once: the cluster must take it once.
  const sending = Promise.all(deliveries.map(async (d, i) => {
    await sleep(i * 150);
    await Promise.all(cluster.apps.map((_, app) => send(d, app)));
  }));
  // And one is redelivered later to a random replica, as a person pressing "Redeliver" would.
  const redelivery = (async () => {
    await sleep(random() * Math.max(t.atMs * 2, 2000));
    await send(deliveries[Math.floor(random() * deliveries.length)]!, Math.floor(random() * cluster.apps.length));
  })();
  let target = "-";
  if (t.fault !== "none") target = await strike(cluster, t, t0, runIds, problems, random);
  await Promise.all([sending, redelivery]);
  // GitHub does not retry a delivery nobody accepted (a replica died on it, Redis was away); a person or the reconciler does.
  for (let round = 0; deliveries.some((d) => !d.accepted) && round < 60; round++) {
    const up = cluster.apps.map((a, i) => (a.pid === undefined ? -1 : i)).filter((i) => i >= 0);
    for (const d of deliveries.filter((x) => !x.accepted)) await send(d, up[Math.floor(random() * up.length)] ?? 0);
    if (deliveries.some((d) => !d.accepted)) await sleep(1000);
  }
  for (const d of deliveries.filter((x) => !x.accepted)) problems.push(`#${d.issue}: no replica accepted delivery ${d.id} in a minute`);
  const finished = await waitForRuns(cluster, issues, opts.finishTimeoutMs ?? 180_000);
  const finishMs = Date.now() - t0;
  if (!finished.ok) problems.push(...finished.details);
  // What is still in flight after the runs say they are done would show up as a duplicate.
  await sleep(2000);
  const gh = cluster.github();
  if (!gh) problems.push("GitHub was never called");
  else {
    for (const issue of issues) problems.push(...(await checkRun(cluster, issue, gh)));
    const unexpected = gh.unexpected.slice(unexpectedBefore);
    if (unexpected.length > 0) problems.push(`unexpected GitHub requests: ${unexpected.join(", ")}`);
  }
  const spans = jobSpans(await cluster.jobLines(), cluster.killedAt).filter((s) => runIds.has(s.jobId.slice(0, s.jobId.indexOf(":"))));
  problems.push(...overlaps(spans, t0), ...stillRunning(spans));
  // SHOPFLOOR_EMBEDDED_RUNNER=0: replicas only orchestrate, so every job ran on a runner node.
  const runnerPids = new Set(cluster.runners.flatMap((r) => r.pids));
  for (const s of spans.filter((x) => !runnerPids.has(x.pid))) problems.push(`job ${s.jobId} ran on pid ${s.pid}, which is not a runner node`);
  for (const node of [...cluster.apps, ...cluster.runners]) {
    problems.push(...node.takeDeaths());
    // A node that died by itself (or failed to restart) is started again, as a supervisor would.
    if (node.pid === undefined) await node.start().catch((e: unknown) => problems.push(`${node.name} did not start again: ${String(e)}`));
  }
  return { trial: t.trial, fault: t.fault, target, atMs: t.atMs, downMs: t.downMs, finishMs, outcome: problems.length === 0 ? "ok" : "problem", details: problems };
}

/** Waits for the fault's moment, kills, waits `downMs`, starts again. Returns what was hit. */
async function strike(cluster: Cluster, t: { fault: Fault; atMs: number; downMs: number }, t0: number, runIds: Set<string>, problems: string[], random: () => number): Promise<string> {
  await sleep(t0 + t.atMs - Date.now());
  const phases = async () => (await Promise.all([...runIds].map(async (id) => `${id.slice(id.indexOf("#"))} ${(await cluster.readRun(id))?.phase ?? "none"}`))).join(", ");
  let target: string;
  let restart: () => Promise<void>;
  if (t.fault === "redis") {
    target = `redis-server (runs: ${await phases()})`;
    await cluster.redis.kill();
    restart = () => cluster.redis.start();
  } else {
    const { node, doing } = t.fault === "runner" ? await busyRunner(cluster, runIds, random) : { node: cluster.apps[Math.floor(random() * cluster.apps.length)]!, doing: await phases() };
    target = `${node.name} (pid ${node.pid}) ${doing}`;
    await cluster.kill(node);
    restart = () => node.start();
  }
  await sleep(t.downMs);
  await restart().catch(async (e: unknown) => {
    problems.push(`the restart after the kill failed: ${String(e)}`);
    await restart().catch(() => undefined);
  });
  return target;
}

/** A runner in the middle of one of this trial's jobs, waited for up to 20 s; else any runner. */
async function busyRunner(cluster: Cluster, runIds: Set<string>, random: () => number): Promise<{ node: NodeProcess; doing: string }> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const open = new Map<string, string[]>();
    for (const line of await cluster.jobLines()) {
      if (!runIds.has(line.jobId.slice(0, line.jobId.indexOf(":")))) continue;
      const key = `${line.pid}`;
      const list = open.get(key) ?? [];
      if (line.edge === "start") list.push(line.jobId);
      else list.splice(list.indexOf(line.jobId), 1);
      open.set(key, list);
    }
    const busy = cluster.runners.filter((r) => (open.get(`${r.pid}`)?.length ?? 0) > 0);
    const node = busy[Math.floor(random() * busy.length)];
    if (node) return { node, doing: `in ${open.get(`${node.pid}`)!.map((j) => `${j.slice(j.indexOf(":") + 1)} of ${j.slice(j.indexOf("#"), j.indexOf(":"))}`).join(" and ")}` };
    await sleep(50);
  }
  return { node: cluster.runners[Math.floor(random() * cluster.runners.length)]!, doing: "idle (no job of this trial was running)" };
}

async function waitForRuns(cluster: Cluster, issues: number[], timeoutMs: number): Promise<{ ok: boolean; details: string[] }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const runs = await Promise.all(issues.map(async (issue) => ({ issue, run: await cluster.readRun(runIdOf(issue)) })));
    const open = runs.filter(({ run }) => !run || !terminalPhases.includes(run.phase) || run.pending.length > 0);
    if (open.length === 0) return { ok: true, details: [] };
    if (Date.now() > until) {
      return {
        ok: false,
        details: open.map(({ issue, run }) => `#${issue}: not finished after ${timeoutMs} ms: phase ${run?.phase ?? "none"}, pending [${run?.pending.map((p) => p.key.slice(p.key.indexOf(":") + 1)).join(", ") ?? ""}]`),
      };
    }
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

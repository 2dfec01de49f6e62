/**
 * The processes of a cluster test: node processes that can be SIGKILLed and started again in the
 * same slot (same port, same work dir, as a restarted machine), and a redis-server that does the
 * same on its port and AOF directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { freePort } from "./port.js";

export interface NodeProcess {
  readonly name: string;
  /** The pid of the current incarnation; undefined while it is down. */
  readonly pid: number | undefined;
  /** Every incarnation's pid, oldest first. */
  readonly pids: readonly number[];
  /** Start (again) and wait for the ready line; rejects if it dies first or takes over a minute. */
  start(): Promise<void>;
  /** SIGKILL the whole process group (the node and whatever it spawned: git, sandboxes), as a dying machine. */
  kill(): Promise<void>;
  /** Exits nobody asked for (a crash on a lost connection, say), as "exit code N at <iso>"; taken once. */
  takeDeaths(): string[];
  /** Kill the current incarnation and a warm spare, if any. */
  close(): Promise<void>;
}

export interface NodeSpec {
  name: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Text on stdout that says the process is ready. */
  readyText: string;
  /** Where stdout and stderr of every incarnation go. */
  logPath: string;
  /**
   * The process loads its modules, then waits for a line on stdin before it starts: the next
   * incarnation is loaded ahead, so a restart takes what the app's start takes, not what loading
   * TypeScript on a busy test machine takes.
   */
  warm?: boolean;
}

interface Incarnation {
  proc: ChildProcess;
  exited: Promise<void>;
  ready: Promise<void>;
}

export function nodeProcess(spec: NodeSpec): NodeProcess {
  let current: Incarnation | undefined;
  let spare: Incarnation | undefined;
  let deaths: string[] = [];
  const pids: number[] = [];
  const log: WriteStream = createWriteStream(spec.logPath, { flags: "a" });

  const spawnIncarnation = (): Incarnation => {
    // Its own process group, so a kill takes its git and sandbox children with it.
    const proc = spawn(process.execPath, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    proc.stdin!.on("error", () => undefined);
    const self = { proc } as Incarnation;
    self.exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        if (current === self) {
          current = undefined;
          deaths.push(`${spec.name} exited by itself (${signal ?? `code ${code}`}) at ${new Date().toISOString()}`);
        }
        resolve();
      }),
    );
    let seen = "";
    let tail = "";
    self.ready = new Promise<void>((resolve, reject) => {
      proc.stdout!.on("data", (chunk: Buffer) => {
        log.write(chunk);
        seen = (seen + chunk.toString("utf8")).slice(-500);
        if (seen.includes(spec.readyText)) resolve();
      });
      proc.stderr!.on("data", (chunk: Buffer) => {
        log.write(chunk);
        tail = (tail + chunk.toString("utf8")).slice(-2000);
      });
      void self.exited.then(() => reject(new Error(`${spec.name} exited before it was ready: ${tail.trim() || "(no output)"}`)));
    });
    self.ready.catch(() => undefined);
    return self;
  };

  const killIncarnation = async (it: Incarnation | undefined) => {
    if (!it?.proc.pid) return;
    if (it.proc.exitCode === null && it.proc.signalCode === null) {
      try {
        process.kill(-it.proc.pid, "SIGKILL");
      } catch {
        it.proc.kill("SIGKILL");
      }
    }
    await it.exited;
  };

  return {
    name: spec.name,
    get pid() {
      return current?.proc.pid;
    },
    pids,
    async start() {
      if (current) throw new Error(`${spec.name} is already running`);
      const it = spare ?? spawnIncarnation();
      spare = undefined;
      current = it;
      if (it.proc.pid !== undefined) pids.push(it.proc.pid);
      log.write(`--- ${spec.name} starting (pid ${it.proc.pid}) at ${new Date().toISOString()}\n`);
      if (spec.warm) it.proc.stdin!.write("go\n");
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${spec.name} was not ready within a minute`)), 60_000)));
      try {
        await Promise.race([it.ready, late]);
      } catch (error) {
        if (current === it) current = undefined;
        await killIncarnation(it);
        throw error;
      } finally {
        clearTimeout(timer);
      }
      if (spec.warm) spare = spawnIncarnation();
    },
    async kill() {
      const it = current;
      current = undefined;
      await killIncarnation(it);
      if (it) log.write(`--- ${spec.name} killed at ${new Date().toISOString()}\n`);
    },
    takeDeaths() {
      const taken = deaths;
      deaths = [];
      return taken;
    },
    async close() {
      const [it, waiting] = [current, spare];
      current = undefined;
      spare = undefined;
      await Promise.all([killIncarnation(it), killIncarnation(waiting)]);
    },
  };
}

export interface RedisProcess {
  url: string;
  start(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * redis-server as test/kit/redis.ts configures it (AOF on, fsync every second, no eviction, no
 * RDB), but on a fixed port and directory, so a SIGKILLed server comes back with its AOF replayed.
 */
export async function redisProcess(dir: string, logPath: string): Promise<RedisProcess> {
  const port = await freePort();
  const log = createWriteStream(logPath, { flags: "a" });
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir, "--maxmemory-policy", "noeviction"];
  return {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const proc = spawn("/usr/bin/redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
      child = proc;
      exited = new Promise((resolve) => proc.once("exit", () => resolve()));
      let output = "";
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`redis-server not ready in 20 s:\n${output}`)), 20_000);
        const onData = (chunk: Buffer) => {
          log.write(chunk);
          output += chunk.toString("utf8");
          // Printed after the AOF is loaded, when clients are served.
          if (output.includes("Ready to accept connections")) {
            clearTimeout(timer);
            resolve();
          }
        };
        proc.stdout!.on("data", onData);
        proc.stderr!.on("data", onData);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`redis-server exited:\n${output}`));
        });
      });
    },
    async kill() {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

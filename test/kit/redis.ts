import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./port.js";

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * A real redis-server on a free loopback port, configured the way the design requires
 * (AOF on, no eviction, no RDB snapshots). `extraArgs` lets a test start a misconfigured one.
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), "shopfloor-redis-"));
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const child = spawn(
      "/usr/bin/redis-server",
      [
        "--port", String(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--dir", dir,
        "--maxmemory-policy", "noeviction",
        ...extraArgs,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    if (await waitForPing(port, child)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        async stop() {
          await kill(child);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await kill(child);
    // Lost the port to someone else between the check and the bind: try another one.
    if (!/Address already in use/.test(output)) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start:\n${output}`);
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error("redis-server did not start after 5 ports");
}

async function waitForPing(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (await ping(port)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d: Buffer) => {
      reply += d.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

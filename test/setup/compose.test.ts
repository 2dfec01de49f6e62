/**
 * docker-compose.yml, read as an operator's `docker compose up` would: no Docker here, so the file
 * is parsed and held to what distributed mode needs (DESIGN §2, README "Distributed mode").
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = fileURLToPath(new URL("../..", import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, "utf8");
const composeText = read("docker-compose.yml");

interface Service {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string | string[];
  volumes?: string[];
  ports?: string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, unknown> | string[];
}
// `<<` merges the shared block of the app and runner services, as Compose does.
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const { services } = compose;

/** The value after a flag in a redis-server command line. */
function flag(command: string[], name: string): string | undefined {
  const i = command.indexOf(name);
  return i >= 0 ? command[i + 1] : undefined;
}

/** Variable names in the first column of README's settings table (`A`, `B` or `C` in one cell counts each). */
function documentedSettings(): Set<string> {
  const readme = read("README.md");
  const section = readme.slice(readme.indexOf("## Settings (environment)"));
  const table = section.slice(0, section.indexOf("\n## ", 1));
  const names = new Set<string>();
  for (const line of table.split("\n").filter((l) => l.startsWith("| `"))) {
    for (const m of line.split("|")[1]!.matchAll(/`([A-Z][A-Z0-9_]*)(?:<[A-Z]+>[A-Z_]*)?`/g)) names.add(m[1]!);
  }
  return names;
}

describe("docker-compose.yml", () => {
  it("runs Redis with AOF on, no eviction, and its data on a named volume", () => {
    const redis = services.redis!;
    expect(redis.image).toMatch(/^redis:/);
    expect(flag(redis.command!, "--appendonly")).toBe("yes");
    expect(flag(redis.command!, "--maxmemory-policy")).toBe("noeviction");
    const [volume, target] = redis.volumes![0]!.split(":");
    expect(target).toBe("/data");
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
  });

  it("runs two app replicas that serve webhooks and leave jobs to the runners", () => {
    const app = services.app!;
    expect(app.build).toBe(".");
    expect(existsSync(`${root}/Dockerfile`)).toBe(true);
    expect(app.command).toEqual(["node", "dist/cli.js", "serve"]);
    expect(app.deploy?.replicas).toBe(2);
    expect(app.environment).toMatchObject({ REDIS_URL: "redis://redis:6379", SHOPFLOOR_EMBEDDED_RUNNER: "0" });
    expect(app.env_file).toBe(".env");
    // Replicas publish no port of their own, so they can be scaled; the load balancer does.
    expect(app.ports).toBeUndefined();
  });

  it("runs two runner nodes on the same Redis, scalable with --scale runner=N", () => {
    const runner = services.runner!;
    expect(runner.command).toEqual(["node", "dist/cli.js", "runner"]);
    expect(runner.deploy?.replicas).toBe(2);
    expect(runner.environment?.REDIS_URL).toBe(services.app!.environment!.REDIS_URL);
    expect(runner.image).toBe(services.app!.image);
    expect(runner.ports).toBeUndefined();
    expect(Object.keys(runner.depends_on ?? {})).toContain("redis");
  });

  it("puts one load balancer in front of the replicas, on the port the image listens on", () => {
    const lb = services.lb!;
    expect(lb.image).toMatch(/^nginx:/);
    const [config, target] = lb.volumes![0]!.split(":");
    expect(target).toBe("/etc/nginx/conf.d/default.conf");
    const nginx = read(config!.replace(/^\.\//, ""));
    const port = /ENV[^]*\bPORT=(\d+)/.exec(read("Dockerfile"))?.[1];
    expect(nginx).toContain(`http://app:${port}`);
    // A delivery a replica could not store (Redis away: 503) goes to another replica.
    expect(nginx).toMatch(/proxy_next_upstream[^;]*http_503[^;]*non_idempotent/);
    expect(lb.ports).toEqual(["3000:80"]);
  });

  it("reads only settings the README documents, from the compose file and .env.example", () => {
    const documented = documentedSettings();
    const referenced = new Set<string>();
    for (const service of Object.values(services)) for (const name of Object.keys(service.environment ?? {})) referenced.add(name);
    for (const m of composeText.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)) referenced.add(m[1]!);
    for (const m of read(".env.example").matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)) referenced.add(m[1]!);
    expect(referenced.size).toBeGreaterThan(5);
    expect([...referenced].filter((name) => !documented.has(name))).toEqual([]);
  });
});

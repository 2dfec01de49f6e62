import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DependencyCache } from "../../src/workspace/dep-cache.js";

const repo = { owner: "acme", name: "widgets" };
let dir: string;
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fill(cache: DependencyCache, key: string, bytes: number) {
  const staging = await cache.stage(repo, [{ target: "node_modules", scratch: [".cache"] }]);
  await writeFile(join(staging.dirs[0]!.source, "blob"), Buffer.alloc(bytes, 1));
  return cache.commit(repo, staging, key, "npm ci");
}

describe("the dependency cache", () => {
  it("keeps a filled entry under its key, with scratch mount points, and misses other keys", async () => {
    dir = await mkdtemp(join(tmpdir(), "dep-cache-"));
    const cache = new DependencyCache({ dir, maxBytes: 10 * 1024 ** 2 });
    expect(await cache.lookup(repo, "k1")).toBeUndefined();
    const entry = await fill(cache, "k1", 1000);
    expect(await cache.lookup(repo, "k1")).toEqual(entry);
    expect(await readdir(entry.dirs[0]!.source)).toEqual([".cache", "blob"].sort());
    expect(await cache.lookup(repo, "k2")).toBeUndefined();
    // Nothing left of the staging directory.
    expect((await readdir(join(dir, "acme", "widgets"))).filter((n) => n.startsWith(".staging"))).toEqual([]);
  });

  it("evicts the least recently used entries past its size, never one in use", async () => {
    dir = await mkdtemp(join(tmpdir(), "dep-cache-"));
    const cache = new DependencyCache({ dir, maxBytes: 2.5 * 1024 ** 2 });
    const old = Date.now() / 1000 - 3 * 3600;
    for (const key of ["a", "b"]) {
      await fill(cache, key, 1024 ** 2);
      await utimes(join(dir, "acme", "widgets", key, "meta.json"), old, old + (key === "b" ? 60 : 0));
    }
    await fill(cache, "c", 1024 ** 2);
    // "a" was used least recently: it goes; "b" and the new "c" fit.
    expect(await cache.lookup(repo, "a")).toBeUndefined();
    expect(await cache.lookup(repo, "b")).toBeDefined();
    expect(await cache.lookup(repo, "c")).toBeDefined();
    // Both just used: neither is evicted although the cache is now over its size.
    await fill(cache, "d", 1024 ** 2);
    expect(await cache.lookup(repo, "b")).toBeDefined();
    expect(await cache.lookup(repo, "d")).toBeDefined();
  });
});

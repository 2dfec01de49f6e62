import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmClientEnv, npmProject, startNpmRegistry, type KitPackage } from "./npm-registry.js";
import { pipClientEnv, startPythonIndex } from "./python-index.js";

const run = promisify(execFile);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "kit-registries-"));
  await writeFile(join(root, "empty-npmrc"), "");
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const packages: KitPackage[] = [
  { name: "@kit/base", version: "1.0.0", files: { "index.js": "module.exports = 'base 1.0.0';\n" } },
  { name: "@kit/base", version: "1.1.0", files: { "index.js": "module.exports = 'base 1.1.0';\n" } },
  {
    name: "kit-greet",
    version: "1.0.0",
    files: { "index.js": "module.exports = (n) => `hello ${n} from ${require('@kit/base')}`;\n" },
    dependencies: { "@kit/base": "^1.0.0" },
    scripts: { postinstall: "node -e \"require('fs').writeFileSync('postinstall-ran', 'yes')\"" },
  },
];

/** `npm ci` as a user would run it, with a private cache so no earlier download hides a request. */
async function npmCi(dir: string, env: Record<string, string> = {}) {
  const args = ["ci", "--no-audit", "--no-fund", "--cache", join(dir, ".npm-cache")];
  // This machine's ~/.npmrc is not the user's; the project's .npmrc is what is under test.
  args.push("--userconfig", join(root, "empty-npmrc"));
  return run("npm", args, { cwd: dir, env: npmClientEnv(env) });
}

async function projectDir(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

describe("npm registry", () => {
  it("serves packuments, the full one for corgi requests, and JSON 404s", async () => {
    const registry = await startNpmRegistry({ packages });
    try {
      const corgi = await fetch(`${registry.url}@kit%2fbase`, {
        headers: { Accept: "application/vnd.npm.install-v1+json" },
      });
      const packument = (await corgi.json()) as { "dist-tags": { latest: string }; versions: Record<string, unknown> };
      expect(packument["dist-tags"].latest).toBe("1.1.0");
      expect(Object.keys(packument.versions)).toEqual(["1.0.0", "1.1.0"]);
      const missing = await fetch(`${registry.url}kit-nowhere`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: "Not found" });
      expect(registry.requests).toEqual(["/@kit%2fbase", "/kit-nowhere"]);
    } finally {
      await registry.close();
    }
  });

  it("npm ci installs from a lock made by npmProject, runs the postinstall and fetches each tarball", async () => {
    const registry = await startNpmRegistry({ packages });
    try {
      const dir = await projectDir("plain");
      const files = await npmProject(dir, registry, { name: "app", dependencies: { "kit-greet": "^1.0.0" } });
      expect(Object.keys(files).sort()).toEqual([".npmrc", "package-lock.json", "package.json"]);
      expect(files[".npmrc"]).toBe(`registry=${registry.url}\n`);
      const lock = JSON.parse(files["package-lock.json"] ?? "{}") as {
        packages: Record<string, { resolved?: string; integrity?: string; hasInstallScript?: boolean }>;
      };
      expect(lock.packages["node_modules/kit-greet"]).toMatchObject({
        resolved: `${registry.url}kit-greet/-/kit-greet-1.0.0.tgz`,
        integrity: expect.stringMatching(/^sha512-/),
        hasInstallScript: true,
      });
      expect(lock.packages["node_modules/@kit/base"]?.resolved).toBe(`${registry.url}@kit/base/-/base-1.1.0.tgz`);
      expect(registry.tarballRequests()).toBe(0);

      await npmCi(dir);

      const { stdout } = await run("node", ["-e", "process.stdout.write(require('kit-greet')('you'))"], { cwd: dir });
      expect(stdout).toBe("hello you from base 1.1.0");
      expect(existsSync(join(dir, "node_modules", "kit-greet", "postinstall-ran"))).toBe(true);
      expect(registry.tarballRequests()).toBe(2);
      expect(registry.requests).toContain("/kit-greet/-/kit-greet-1.0.0.tgz");
    } finally {
      await registry.close();
    }
  });

  it("with a token, refuses an install without NPM_TOKEN and serves one with it", async () => {
    const registry = await startNpmRegistry({ packages, token: "kit-s3cret" });
    try {
      const dir = await projectDir("private");
      const files = await npmProject(dir, registry, { name: "app", dependencies: { "@kit/base": "1.0.0" } });
      expect(files[".npmrc"]).toContain(`//${registry.host}/:_authToken=\${NPM_TOKEN}`);
      expect(files[".npmrc"]).not.toContain("kit-s3cret");

      const refused = registry.requests.length;
      await expect(npmCi(dir)).rejects.toThrow(/E401|401/);
      expect(registry.requests.length).toBeGreaterThan(refused);
      expect(registry.tarballRequests()).toBe(0);

      await npmCi(dir, { NPM_TOKEN: "kit-s3cret" });
      const { stdout } = await run("node", ["-e", "process.stdout.write(require('@kit/base'))"], { cwd: dir });
      expect(stdout).toBe("base 1.0.0");
      expect(registry.tarballRequests()).toBe(1);
    } finally {
      await registry.close();
    }
  });
});

describe("python index", () => {
  it("pip installs a wheel and its dependency from the index, and the module imports", async () => {
    const index = await startPythonIndex({
      wheels: [
        { name: "kit-base", version: "1.0.0", modules: { "kit_base/__init__.py": "OFFSET = 100\n" } },
        {
          name: "kitmath",
          version: "1.0.0",
          modules: {
            "kitmath/__init__.py": "from kit_base import OFFSET\n\ndef add(a, b):\n    return a + b + OFFSET\n",
          },
          requires: ["kit-base>=1.0"],
        },
      ],
    });
    try {
      const venv = join(root, "venv");
      await run("/usr/bin/python3", ["-m", "venv", venv]);
      await run(join(venv, "bin", "pip"), ["install", "--index-url", index.url, "kitmath"], { env: pipClientEnv() });

      const { stdout } = await run(join(venv, "bin", "python"), ["-c", "import kitmath; print(kitmath.add(2, 3))"]);
      expect(stdout.trim()).toBe("105");
      expect(index.fileRequests()).toBe(2);
      expect(index.requests).toContain("/simple/kitmath/");
      expect(index.requests).toContain("/simple/kit-base/");
    } finally {
      await index.close();
    }
  });
});

import { describe, expect, it } from "vitest";
import { detectEcosystems, detectedInstall, detectedTest } from "../../src/workspace/detect.js";

const repo = (files: Record<string, string>) => ({ root: Object.keys(files), read: async (p: string) => files[p] });
const detect = async (files: Record<string, string>) => {
  const found = await detectEcosystems(repo(files));
  return { names: found.map((e) => e.name), install: detectedInstall(found), test: detectedTest(found), found };
};

describe("what a repository needs, read from its root", () => {
  it("knows each ecosystem by its lock file, with the install and test a user of it expects", async () => {
    const pkg = JSON.stringify({ scripts: { test: "vitest run" } });
    expect(await detect({ "package.json": pkg, "package-lock.json": "{}" })).toMatchObject({ names: ["npm"], install: "npm ci --no-audit --no-fund", test: "npm test" });
    expect(await detect({ "package.json": pkg, "pnpm-lock.yaml": "" })).toMatchObject({ names: ["pnpm"], install: "corepack pnpm install --frozen-lockfile", test: "corepack pnpm test" });
    expect(await detect({ "package.json": pkg, "yarn.lock": "" })).toMatchObject({ names: ["yarn"], install: "corepack yarn install --frozen-lockfile --non-interactive" });
    expect((await detect({ "package.json": JSON.stringify({ packageManager: "yarn@4.1.0" }), "yarn.lock": "" })).install).toBe("corepack yarn install --immutable");
    expect(await detect({ "go.mod": "module x", "go.sum": "" })).toMatchObject({ names: ["go"], install: "go mod download", test: "go test ./..." });
    expect(await detect({ "Cargo.toml": "", "Cargo.lock": "" })).toMatchObject({ names: ["cargo"], install: "cargo fetch --locked", test: "cargo test" });
    const py = await detect({ "requirements.txt": "requests\n", "requirements-dev.txt": "", tests: "" });
    expect(py).toMatchObject({ names: ["python"], test: "python3 -m pytest" });
    expect(py.install).toBe("python3 -m venv --system-site-packages /deps/venv && /deps/venv/bin/pip install --no-input -r requirements-dev.txt -r requirements.txt");
    expect((await detect({ "pyproject.toml": "[tool.pytest.ini_options]\n", "uv.lock": "" })).install).toBe("uv sync --frozen");
    expect((await detect({ "pyproject.toml": "", "poetry.lock": "" })).install).toMatch(/poetry install --no-interaction --no-root$/);
  });

  it("does not mistake npm init's placeholder for tests, and installs nothing without a lock file", async () => {
    const placeholder = JSON.stringify({ scripts: { test: 'echo "Error: no test specified" && exit 1' } });
    expect(await detect({ "package.json": placeholder, "package-lock.json": "{}" })).toMatchObject({ install: "npm ci --no-audit --no-fund", test: undefined });
    expect(await detect({ "package.json": JSON.stringify({ scripts: { test: "node --test" } }) })).toMatchObject({ install: "", test: "npm test" });
    expect(await detect({ "README.md": "hi" })).toMatchObject({ names: [], install: "", test: undefined });
  });

  it("keys the cache on the files that decide the install, and names the registries setup may reach", async () => {
    const { found } = await detect({ "package.json": "{}", "package-lock.json": "{}", ".npmrc": "", "go.mod": "", "go.sum": "" });
    expect(found.map((e) => e.keyFiles)).toEqual([["package.json", "package-lock.json", ".npmrc"], ["go.mod", "go.sum"]]);
    expect(found.flatMap((e) => e.registries)).toEqual(["registry.npmjs.org", "proxy.golang.org", "sum.golang.org"]);
    // Go never downloads a toolchain, and after setup never reaches for the network.
    expect(found[1]!.env).toMatchObject({ GOTOOLCHAIN: "local" });
    expect(found[1]!.offlineEnv).toMatchObject({ GOPROXY: "off" });
  });
});

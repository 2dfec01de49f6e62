/**
 * What a repository needs installed, and how its tests run, read from the files at its root:
 * lock files name the ecosystem, the ecosystem names the install command, the registries setup
 * may reach, the directories worth caching and the environment every later command needs to
 * find them. Pure: the caller lists the root and reads files from the mirror.
 */

export type EcosystemName = "npm" | "pnpm" | "yarn" | "python" | "go" | "cargo";

/** A directory the install fills and the cache keeps: relative to the worktree, or absolute inside the sandbox. */
export interface CachedDir {
  target: string;
  /** Subdirectories tools insist on writing to at test time (caches): a scratch tmpfs over each. */
  scratch?: string[];
}

export interface Ecosystem {
  name: EcosystemName;
  /** The detected install command (`commands.install` replaces it). */
  install: string;
  /** The test command when `commands.test` is not set, if the repository has tests this way. */
  test?: string;
  /** Files whose content decides what gets installed: part of the cache key. */
  keyFiles: string[];
  /** Prints the toolchain's versions inside the sandbox: part of the cache key. */
  toolchain: string;
  /** Hosts setup may reach by default. */
  registries: string[];
  dirs: CachedDir[];
  /** For setup and every later command: where the installed things are. */
  env: Record<string, string>;
  /** After setup only: never reach for the network (there is none) and fail fast instead. */
  offlineEnv: Record<string, string>;
}

export interface RepoFiles {
  /** Names at the repository root. */
  root: readonly string[];
  read(path: string): Promise<string | undefined>;
}

const VENV = "/deps/venv";
const NPM_REGISTRIES = ["registry.npmjs.org"];
const COREPACK = { COREPACK_HOME: "/deps/corepack", COREPACK_ENABLE_DOWNLOAD_PROMPT: "0", COREPACK_ENABLE_STRICT: "0" };
/** Where Node tools keep caches inside node_modules; read-only would break them, so scratch. */
const NODE_SCRATCH = [".cache", ".vite", ".vitest"];
/** `npm init`'s placeholder: a test script that only fails is no test. */
const NPM_PLACEHOLDER = /no test specified/;

export async function detectEcosystems(files: RepoFiles): Promise<Ecosystem[]> {
  const has = (name: string) => files.root.includes(name);
  const found: Ecosystem[] = [];
  const manifest = has("package.json") ? parseJson(await files.read("package.json")) : undefined;
  const testScript = typeof manifest?.scripts?.test === "string" && !NPM_PLACEHOLDER.test(manifest.scripts.test);
  const nodeKeys = (lock: string, extra: string[] = []) => ["package.json", lock, ".npmrc", ...extra].filter(has);
  const nodeModules: CachedDir = { target: "node_modules", scratch: NODE_SCRATCH };
  const toolchain = "node --version; npm --version";

  if (has("pnpm-lock.yaml")) {
    found.push({
      name: "pnpm",
      install: "corepack pnpm install --frozen-lockfile",
      ...(testScript && { test: "corepack pnpm test" }),
      keyFiles: nodeKeys("pnpm-lock.yaml", ["pnpm-workspace.yaml", ".pnpmfile.cjs"]),
      toolchain,
      registries: [...NPM_REGISTRIES, "repo.yarnpkg.com"],
      dirs: [nodeModules, { target: COREPACK.COREPACK_HOME }],
      env: { ...COREPACK },
      offlineEnv: { npm_config_offline: "true" },
    });
  } else if (has("yarn.lock")) {
    const berry = typeof manifest?.packageManager === "string" && /^yarn@(?!1\.)/.test(manifest.packageManager);
    found.push({
      name: "yarn",
      install: berry ? "corepack yarn install --immutable" : "corepack yarn install --frozen-lockfile --non-interactive",
      ...(testScript && { test: "corepack yarn test" }),
      keyFiles: nodeKeys("yarn.lock", [".yarnrc", ".yarnrc.yml"]),
      toolchain,
      registries: [...NPM_REGISTRIES, "registry.yarnpkg.com", "repo.yarnpkg.com"],
      dirs: [nodeModules, { target: COREPACK.COREPACK_HOME }],
      env: { ...COREPACK, YARN_ENABLE_TELEMETRY: "0" },
      offlineEnv: { YARN_ENABLE_NETWORK: "0" },
    });
  } else if (has("package-lock.json") || has("npm-shrinkwrap.json")) {
    found.push({
      name: "npm",
      install: "npm ci --no-audit --no-fund",
      ...(testScript && { test: "npm test" }),
      keyFiles: nodeKeys(has("package-lock.json") ? "package-lock.json" : "npm-shrinkwrap.json"),
      toolchain,
      registries: NPM_REGISTRIES,
      dirs: [nodeModules],
      env: { npm_config_update_notifier: "false" },
      offlineEnv: { npm_config_offline: "true" },
    });
  } else if (manifest && testScript) {
    // No lock file, nothing to install reproducibly; the tests may still run (no dependencies).
    found.push({ name: "npm", install: "", test: "npm test", keyFiles: [], toolchain, registries: [], dirs: [], env: {}, offlineEnv: {} });
  }

  const python = await detectPython(files);
  if (python) found.push(python);
  if (has("go.mod")) {
    found.push({
      name: "go",
      install: "go mod download",
      test: "go test ./...",
      keyFiles: ["go.mod", "go.sum"].filter(has),
      toolchain: "go version",
      registries: ["proxy.golang.org", "sum.golang.org"],
      dirs: [{ target: "/deps/go" }],
      // GOTOOLCHAIN=local: a go.mod asking for a newer Go must not download one.
      env: { GOPATH: "/deps/go", GOMODCACHE: "/deps/go/mod", GOCACHE: "/tmp/go-build", GOTOOLCHAIN: "local", GOFLAGS: "-modcacherw" },
      offlineEnv: { GOPROXY: "off", GOFLAGS: "-mod=mod" },
    });
  }
  if (has("Cargo.toml")) {
    found.push({
      name: "cargo",
      install: has("Cargo.lock") ? "cargo fetch --locked" : "cargo fetch",
      test: "cargo test",
      keyFiles: ["Cargo.toml", "Cargo.lock"].filter(has),
      toolchain: "cargo --version; rustc --version",
      registries: ["index.crates.io", "static.crates.io", "crates.io"],
      dirs: [{ target: "/deps/cargo" }],
      env: { CARGO_HOME: "/deps/cargo" },
      offlineEnv: { CARGO_NET_OFFLINE: "true" },
    });
  }
  return found;
}

async function detectPython(files: RepoFiles): Promise<Ecosystem | undefined> {
  const has = (name: string) => files.root.includes(name);
  const requirements = files.root.filter((f) => /^requirements[\w.-]*\.txt$/.test(f)).sort();
  const pyproject = has("pyproject.toml") ? ((await files.read("pyproject.toml")) ?? "") : "";
  const setupCfg = has("setup.cfg") ? ((await files.read("setup.cfg")) ?? "") : "";
  const tests =
    has("pytest.ini") ||
    has("conftest.py") ||
    /\[tool\.pytest/.test(pyproject) ||
    /\[tool:pytest\]/.test(setupCfg) ||
    has("tox.ini") ||
    files.root.some((f) => /^test_.*\.py$|_test\.py$/.test(f)) ||
    ((has("tests") || has("test")) && (requirements.length > 0 || has("pyproject.toml")));
  if (requirements.length === 0 && !has("pyproject.toml") && !tests) return undefined;

  // --system-site-packages: the distribution's own tools (pytest from Debian, say) stay usable.
  const venv = `python3 -m venv --system-site-packages ${VENV}`;
  let install = "";
  if (has("uv.lock")) install = "uv sync --frozen";
  else if (has("poetry.lock")) install = `${venv} && poetry install --no-interaction --no-root`;
  else if (requirements.length > 0) install = `${venv} && ${VENV}/bin/pip install --no-input ${requirements.map((r) => `-r ${r}`).join(" ")}`;
  const keyFiles = [...requirements, "pyproject.toml", "uv.lock", "poetry.lock", "setup.cfg"].filter(has);
  return {
    name: "python",
    install,
    ...(tests && { test: "python3 -m pytest" }),
    keyFiles,
    toolchain: "python3 --version",
    registries: ["pypi.org", "files.pythonhosted.org"],
    dirs: install ? [{ target: VENV }] : [],
    env: install
      ? {
          VIRTUAL_ENV: VENV,
          UV_PROJECT_ENVIRONMENT: VENV,
          PIP_DISABLE_PIP_VERSION_CHECK: "1",
          PIP_NO_CACHE_DIR: "1",
          PYTHONDONTWRITEBYTECODE: "1",
          PATH_PREFIX: `${VENV}/bin`,
        }
      : { PYTHONDONTWRITEBYTECODE: "1" },
    offlineEnv: { PIP_NO_INDEX: "1", UV_OFFLINE: "1" },
  };
}

/** The test command to run when the repository sets none: the first ecosystem that has one. */
export function detectedTest(ecosystems: readonly Ecosystem[]): string | undefined {
  return ecosystems.find((e) => e.test)?.test;
}

/** The install command when the repository sets none: every ecosystem's, in order. */
export function detectedInstall(ecosystems: readonly Ecosystem[]): string {
  return ecosystems
    .map((e) => e.install)
    .filter(Boolean)
    .join(" && ");
}

function parseJson(text: string | undefined): { scripts?: Record<string, unknown>; packageManager?: unknown } | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as { scripts?: Record<string, unknown> }) : undefined;
  } catch {
    return undefined;
  }
}

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";

export interface KitPackage {
  name: string;
  version: string;
  /** Paths inside the package (`index.js`, `lib/x.js`); its package.json is generated from the other fields. */
  files: Record<string, string>;
  dependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

export interface NpmRegistry {
  /** `http://127.0.0.1:<port>/`, with the trailing slash npm writes into `resolved`. */
  url: string;
  /** `127.0.0.1:<port>`, what an allowlist names. */
  host: string;
  /** The token every request must carry as `Authorization: Bearer`, if the registry demands one. */
  token: string | undefined;
  /** Every request path, in order, including refused ones. */
  requests: string[];
  tarballRequests(): number;
  close(): Promise<void>;
}

interface Served {
  packuments: Map<string, Buffer>;
  tarballs: Map<string, Buffer>;
}

/**
 * A registry on loopback serving `opts.packages`: packuments at `/<name>` (`/@scope%2fname`) and
 * tarballs at `/<name>/-/<basename>-<version>.tgz`. Everything is built before it listens, so a
 * few hundred packages cost one pass of gzip and the handler only looks up buffers.
 */
export async function startNpmRegistry(opts: { packages: KitPackage[]; token?: string }): Promise<NpmRegistry> {
  const requests: string[] = [];
  let tarballs = 0;
  let served: Served = { packuments: new Map(), tarballs: new Map() };

  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push(path);
    req.resume();
    if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { "Content-Type": "application/json", "WWW-Authenticate": 'Bearer realm="kit"' });
      res.end(JSON.stringify({ error: "authentication required" }));
      return;
    }
    const name = decodeURIComponent(path.split("?")[0] ?? "/").slice(1);
    const tarball = name.includes("/-/") ? served.tarballs.get(name) : undefined;
    if (tarball) {
      tarballs += 1;
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": tarball.length });
      res.end(req.method === "HEAD" ? undefined : tarball);
      return;
    }
    // The abbreviated ("corgi") form is a subset of the full packument, so npm accepts the full one.
    const packument = served.packuments.get(name);
    if (packument) {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": packument.length });
      res.end(req.method === "HEAD" ? undefined : packument);
      return;
    }
    res.writeHead(404, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ error: "Not found" }));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `http://${host}/`;
  served = build(opts.packages, url);
  return {
    url,
    host,
    token: opts.token,
    requests,
    tarballRequests: () => tarballs,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function build(packages: KitPackage[], url: string): Served {
  const tarballs = new Map<string, Buffer>();
  const byName = new Map<string, Record<string, unknown>[]>();
  for (const pkg of packages) {
    const manifest = {
      name: pkg.name,
      version: pkg.version,
      ...(pkg.dependencies ? { dependencies: pkg.dependencies } : {}),
      ...(pkg.scripts ? { scripts: pkg.scripts } : {}),
    };
    const tgz = gzipSync(tar({ ...pkg.files, "package.json": `${JSON.stringify(manifest, null, 2)}\n` }));
    const path = `${pkg.name}/-/${pkg.name.split("/").pop()}-${pkg.version}.tgz`;
    tarballs.set(path, tgz);
    const versions = byName.get(pkg.name) ?? [];
    versions.push({
      ...manifest,
      // As registry.npmjs.org marks it: npm copies it into the lock file, and `npm ci` looks for
      // scripts only in packages the lock file marks.
      ...(hasInstallScript(pkg.scripts) ? { hasInstallScript: true } : {}),
      dist: {
        tarball: `${url}${path}`,
        integrity: `sha512-${createHash("sha512").update(tgz).digest("base64")}`,
        shasum: createHash("sha1").update(tgz).digest("hex"),
      },
    });
    byName.set(pkg.name, versions);
  }
  const packuments = new Map<string, Buffer>();
  for (const [name, versions] of byName) {
    const latest = versions[versions.length - 1]?.version as string;
    const packument = {
      name,
      "dist-tags": { latest },
      versions: Object.fromEntries(versions.map((v) => [v.version as string, v])),
    };
    packuments.set(name, Buffer.from(JSON.stringify(packument)));
  }
  return { packuments, tarballs };
}

function hasInstallScript(scripts: Record<string, string> | undefined): boolean {
  return ["preinstall", "install", "postinstall"].some((s) => scripts?.[s] !== undefined);
}

/** A ustar archive of `files`, each under `package/` as npm tarballs are laid out. */
function tar(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [path, content] of Object.entries(files)) {
    const body = Buffer.from(content);
    blocks.push(tarHeader(`package/${path}`, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function tarHeader(path: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  // Names past 100 bytes go in the 155-byte prefix field, split at a slash.
  let name = path;
  let prefix = "";
  if (Buffer.byteLength(path) > 100) {
    const cut = path.lastIndexOf("/", 155);
    if (cut <= 0 || Buffer.byteLength(path.slice(cut + 1)) > 100) throw new Error(`kit tar: path too long: ${path}`);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, "0")}\0`;
  header.write(name, 0, 100);
  header.write(octal(0o644, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  header.write(octal(size, 12), 124);
  header.write(octal(0, 12), 136);
  header.write("        ", 148); // the checksum is summed with its own field as spaces
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  header.write(prefix, 345, 155);
  const sum = header.reduce((acc, byte) => acc + byte, 0);
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return header;
}

const run = promisify(execFile);

/**
 * The environment for a child npm: this one without the `npm_*` variables that an enclosing
 * `npm test` or `npx` sets (`npm_config_local_prefix` would send the child to the wrong project).
 */
export function npmClientEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return { ...env, ...extra };
}

/**
 * Writes a project that depends on packages from `registry` into `dir`: package.json, .npmrc
 * (registry URL, plus an `${NPM_TOKEN}` auth line when the registry demands a token) and the
 * package-lock.json that real npm resolves against the registry. Returns every file written,
 * path → content, for committing into a fixture repository.
 */
export async function npmProject(
  dir: string,
  registry: NpmRegistry,
  manifest: {
    name: string;
    dependencies: Record<string, string>;
    scripts?: Record<string, string>;
    devDependencies?: Record<string, string>;
  },
): Promise<Record<string, string>> {
  const auth = registry.token === undefined ? "" : `//${registry.host}/:_authToken=\${NPM_TOKEN}\n`;
  const files: Record<string, string> = {
    "package.json": `${JSON.stringify({ version: "1.0.0", private: true, ...manifest }, null, 2)}\n`,
    ".npmrc": `registry=${registry.url}\n${auth}`,
  };
  for (const [path, content] of Object.entries(files)) await writeFile(join(dir, path), content);

  // A private cache and an empty user config, so the lock file does not depend on this machine's ~/.npmrc.
  const scratch = await mkdtemp(join(tmpdir(), "kit-npm-lock-"));
  try {
    await writeFile(join(scratch, "npmrc"), "");
    const args = ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"];
    args.push("--cache", join(scratch, "cache"), "--userconfig", join(scratch, "npmrc"));
    await run("npm", args, {
      cwd: dir,
      env: npmClientEnv({ NPM_TOKEN: registry.token ?? "" }),
      maxBuffer: 16 * 1024 * 1024,
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  files["package-lock.json"] = await readFile(join(dir, "package-lock.json"), "utf8");
  return files;
}

import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32, deflateRawSync } from "node:zlib";

export interface KitWheel {
  name: string;
  version: string;
  /** Paths inside site-packages and their source, e.g. `{"kitmath/__init__.py": "def add(a, b): return a + b\n"}`. */
  modules: Record<string, string>;
  /** `Requires-Dist` lines, e.g. `["kitbase>=1"]`, so pip resolves them from the same index. */
  requires?: string[];
}

export interface PythonIndex {
  /** `http://127.0.0.1:<port>/simple/`, what `pip --index-url` takes. */
  url: string;
  /** `127.0.0.1:<port>`, what an allowlist names. */
  host: string;
  /** Every request path, in order. */
  requests: string[];
  /** How many wheel downloads so far. */
  fileRequests(): number;
  close(): Promise<void>;
}

interface Built {
  filename: string;
  project: string;
  body: Buffer;
  sha256: string;
}

/**
 * The environment for a child pip that sees only the index it is given: no `PIP_*` settings or
 * config files from this machine (which may add find-links or extra indexes), no cache, no
 * self-update check.
 */
export function pipClientEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^PIP_/i.test(key)));
  return {
    ...env,
    PIP_CONFIG_FILE: "/dev/null",
    PIP_NO_CACHE_DIR: "1",
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    ...extra,
  };
}

/**
 * A PEP 503 simple index on loopback: `/simple/` lists projects, `/simple/<normalized>/` links
 * each wheel as `/files/<filename>#sha256=<hex>`, and `/files/<filename>` serves it. Wheels are
 * built before it listens.
 */
export async function startPythonIndex(opts: { wheels: KitWheel[] }): Promise<PythonIndex> {
  const built = opts.wheels.map(buildWheel);
  const files = new Map(built.map((w) => [w.filename, w]));
  const projects = new Map<string, Built[]>();
  for (const w of built) projects.set(w.project, [...(projects.get(w.project) ?? []), w]);
  const requests: string[] = [];
  let downloads = 0;

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    requests.push(req.url ?? "/");
    req.resume();
    const file = path.startsWith("/files/") ? files.get(decodeURIComponent(path.slice("/files/".length))) : undefined;
    if (file) {
      downloads += 1;
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": file.body.length });
      res.end(req.method === "HEAD" ? undefined : file.body);
      return;
    }
    const page = simplePage(path, projects);
    if (page === null) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found\n");
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(page);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${host}/simple/`,
    host,
    requests,
    fileRequests: () => downloads,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function simplePage(path: string, projects: Map<string, Built[]>): string | null {
  const html = (links: string[]) =>
    `<!DOCTYPE html>\n<html><body>\n${links.map((l) => `${l}<br/>\n`).join("")}</body></html>\n`;
  if (path === "/simple/" || path === "/simple") {
    return html([...projects.keys()].map((p) => `<a href="/simple/${p}/">${p}</a>`));
  }
  const m = /^\/simple\/([^/]+)\/?$/.exec(path);
  const wheels = m?.[1] ? projects.get(normalize(decodeURIComponent(m[1]))) : undefined;
  if (!wheels) return null;
  return html(wheels.map((w) => `<a href="/files/${w.filename}#sha256=${w.sha256}">${w.filename}</a>`));
}

/** PEP 503 name normalization. */
function normalize(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

function buildWheel(wheel: KitWheel): Built {
  // PEP 427 escapes the distribution name in file and directory names.
  const stem = `${wheel.name.replace(/[^\w\d.]+/g, "_")}-${wheel.version}`;
  const info = `${stem}.dist-info`;
  const metadata = [
    "Metadata-Version: 2.1",
    `Name: ${wheel.name}`,
    `Version: ${wheel.version}`,
    ...(wheel.requires ?? []).map((r) => `Requires-Dist: ${r}`),
  ];
  const entries: Record<string, string> = {
    ...wheel.modules,
    [`${info}/METADATA`]: `${metadata.join("\n")}\n`,
    [`${info}/WHEEL`]: "Wheel-Version: 1.0\nGenerator: shopfloor-kit\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
  };
  // pip checks every installed file against RECORD; RECORD lists itself with no hash.
  const record = Object.entries(entries).map(([path, content]) => {
    const bytes = Buffer.from(content);
    return `${path},sha256=${createHash("sha256").update(bytes).digest("base64url")},${bytes.length}`;
  });
  entries[`${info}/RECORD`] = `${[...record, `${info}/RECORD,,`].join("\n")}\n`;
  const body = zip(entries);
  return {
    filename: `${stem}-py3-none-any.whl`,
    project: normalize(wheel.name),
    body,
    sha256: createHash("sha256").update(body).digest("hex"),
  };
}

/** A zip archive of deflated entries, enough for pip's zipfile. */
function zip(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  // 1980-01-01 00:00, the DOS epoch: fixed so a wheel's hash does not change between runs.
  const dosTime = 0;
  const dosDate = (1 << 5) | 1; // year 0 (1980) << 9, month 1 << 5, day 1
  for (const [path, content] of Object.entries(files)) {
    const name = Buffer.from(path);
    const data = Buffer.from(content);
    const packed = deflateRawSync(data);
    const crc = crc32(data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: deflate
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(8, 8); // method: deflate
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, packed);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, so the mode below is read
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    // extra, comment, disk number and internal attributes stay zero
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

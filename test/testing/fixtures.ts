/** What the trial tests share: a scratch directory per test, files written into it, and role cards a team has edited. */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach } from "vitest";
import type { ModelServer } from "../../src/testing/index.js";

const shippedCards = resolve(dirname(fileURLToPath(import.meta.url)), "../../agents");

/** A fresh directory for each test, and the scripted server it started, closed after it. */
export function useTrialDir(prefix: string): { tmp: string; server: ModelServer | undefined } {
  const state: { tmp: string; server: ModelServer | undefined } = { tmp: "", server: undefined };
  beforeEach(async () => {
    state.tmp = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await state.server?.close();
    state.server = undefined;
    await rm(state.tmp, { recursive: true, force: true });
  });
  return state;
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<string> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

/** The shipped cards in `<tmp>/agents`, with `card` (e.g. "reviewer.md") rewritten by `edit`, as a team would. */
export async function teamCards(tmp: string, card: string, edit: (shipped: string) => string): Promise<string> {
  const dir = join(tmp, "agents");
  await cp(shippedCards, dir, { recursive: true });
  await writeFile(join(dir, card), edit(await readFile(join(dir, card), "utf8")));
  return dir;
}

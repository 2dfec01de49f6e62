import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileTriggerLabelBook, TriggerLabels } from "../../src/store/trigger-labels.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("trigger labels in the state dir (one process)", () => {
  it("remembers a repo's label across a restart, case-insensitively, and falls back to the default", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shopfloor-labels-"));
    dirs.push(dir);
    const before = new TriggerLabels(new FileTriggerLabelBook(dir), "agent:build");
    await before.load();
    await before.remember("Octo", "App", "factory:go");
    const after = new TriggerLabels(new FileTriggerLabelBook(dir), "agent:build");
    await after.load();
    expect(after.labelFor("octo", "app")).toBe("factory:go");
    expect(after.labelFor("octo", "other")).toBe("agent:build");
  });
});

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGit, Workspace } from "../../src/workspace/index.js";
import { makeOriginRepo, startGitServer, type GitServer } from "../kit/git-server.js";

const TOKEN = "ghs_integrate_token_0123456789";
const author = { name: "Shopfloor", email: "shopfloor@example.com" };
let tmp: string;
let server: GitServer;
let base: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "integrate-"));
  server = await startGitServer({ root: join(tmp, "origin"), token: TOKEN });
});

afterAll(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function fresh(name: string) {
  const repo = { owner: "acme", name, installationId: 1 };
  base = await makeOriginRepo(join(tmp, "origin"), repo.owner, repo.name, { "a.txt": "one\ntwo\nthree\n", "b.txt": "b\n" });
  const ws = new Workspace({ workDir: join(tmp, `work-${name}`), tokenFor: async () => TOKEN, remoteUrlFor: (r) => `${server.url}/${r.owner}/${r.name}.git` });
  await ws.syncMirror(repo);
  /** A subtask's commit on `base`, as a parallel build job makes it. */
  const commitOn = async (label: string, file: string, content: string) => {
    const wt = await ws.addWorktree(repo, base, label);
    await writeFile(join(wt, file), content);
    const c = await ws.commitAll(wt, `change ${file}`, author);
    await ws.removeWorktree(wt);
    return c!.sha;
  };
  const originShow = async (ref: string) => (await runGit(["show", ref], { cwd: join(tmp, "origin", repo.owner, `${repo.name}.git`) })).stdout;
  return { repo, ws, commitOn, originShow };
}

describe("integrate: landing parallel subtasks on the run branch", () => {
  it("pushes the first as is and replays the second onto the new tip, keeping both changes", async () => {
    const { repo, ws, commitOn, originShow } = await fresh("both");
    const first = await commitOn("s1", "a.txt", "one\nTWO\nthree\n");
    const second = await commitOn("s2", "b.txt", "B\n");
    expect(await ws.integrate(repo, first, base, "shopfloor/1-x", author)).toEqual({ sha: first });
    const landed = await ws.integrate(repo, second, base, "shopfloor/1-x", author);
    expect("sha" in landed && landed.sha).not.toBe(second);
    expect(await originShow("shopfloor/1-x:a.txt")).toBe("one\nTWO\nthree\n");
    expect(await originShow("shopfloor/1-x:b.txt")).toBe("B\n");
    expect(await originShow("shopfloor/1-x~1")).toContain("change a.txt");
  });

  it("returns the conflicting files instead of forcing, and leaves the branch as it was", async () => {
    const { repo, ws, commitOn, originShow } = await fresh("conflict");
    const first = await commitOn("s1", "a.txt", "one\nTWO\nthree\n");
    const second = await commitOn("s2", "a.txt", "one\ndeux\nthree\n");
    await ws.integrate(repo, first, base, "shopfloor/2-x", author);
    expect(await ws.integrate(repo, second, base, "shopfloor/2-x", author)).toEqual({ conflicts: ["a.txt"] });
    expect(await originShow("shopfloor/2-x:a.txt")).toBe("one\nTWO\nthree\n");
  });

  it("survives two subtasks landing at the same moment: both changes end on the branch", async () => {
    const { repo, ws, commitOn, originShow } = await fresh("race");
    const first = await commitOn("s1", "a.txt", "one\nTWO\nthree\n");
    const second = await commitOn("s2", "b.txt", "B\n");
    const outcomes = await Promise.all([
      ws.integrate(repo, first, base, "shopfloor/3-x", author),
      ws.integrate(repo, second, base, "shopfloor/3-x", author),
    ]);
    expect(outcomes.every((o) => "sha" in o)).toBe(true);
    expect(await originShow("shopfloor/3-x:a.txt")).toBe("one\nTWO\nthree\n");
    expect(await originShow("shopfloor/3-x:b.txt")).toBe("B\n");
  });

  it("never pushes over a commit someone else made on the branch", async () => {
    const { repo, ws, commitOn } = await fresh("stranger");
    const first = await commitOn("s1", "a.txt", "one\nTWO\nthree\n");
    await ws.integrate(repo, first, base, "shopfloor/4-x", author);
    const other = await commitOn("s2", "b.txt", "B\n");
    await expect(ws.push(repo, other, "shopfloor/4-x", { ownEmail: "someone-else@example.com" })).rejects.toMatchObject({ reason: "policy_violation" });
  });
});

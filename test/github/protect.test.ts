import nock from "nock";
import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { protect, protectCommand, ProtectError } from "../../src/cli/protect.js";
import { api, capture, fenceGitHub } from "./kit.js";

const repoPath = "/repos/Codertocat/Hello-World";
const appId = 1234;
const gate = { context: "Shopfloor gate", integration_id: appId };
const ghes = "https://ghe.example.com";
const ghesApi = `${ghes}/api/v3`;
// Octokit's spacing of writes (a second apart) is not under test.
const Octokit = ProbotOctokit.defaults({ throttle: { enabled: false }, retry: { enabled: false } });

let github: ReturnType<typeof fenceGitHub>;
let lines: string[];
const log = (line: string) => lines.push(line);
beforeEach(() => {
  github = fenceGitHub();
  lines = [];
});
afterEach(() => github.close());

const ruleset = (rules: unknown[], include = ["refs/heads/main"]) => ({
  id: 9,
  name: "Shopfloor gate",
  target: "branch",
  source_type: "Repository",
  source: "Codertocat/Hello-World",
  enforcement: "active",
  conditions: { ref_name: { include, exclude: [] } },
  rules,
});

describe("protect with rulesets", () => {
  it("creates the ruleset on the default branch, then a second run changes nothing and says so", async () => {
    const bodies: unknown[] = [];
    nock(api)
      .get(repoPath)
      .times(2)
      .reply(200, { default_branch: "main" })
      .get(`${repoPath}/rulesets`)
      .query({ includes_parents: "false", per_page: "100" })
      .reply(200, [])
      .post(`${repoPath}/rulesets`, capture(bodies))
      .reply(201, { id: 9 })
      .get(`${repoPath}/rulesets`)
      .query({ includes_parents: "false", per_page: "100" })
      .reply(200, [{ id: 9, name: "Shopfloor gate", source_type: "Repository" }])
      .get(`${repoPath}/rulesets/9`)
      .reply(200, ruleset([{ type: "required_status_checks", parameters: { required_status_checks: [gate], strict_required_status_checks_policy: false } }]));

    const first = await protect({ repo: "Codertocat/Hello-World", appId, token: "ghp_admin", log, Octokit });
    expect(first).toEqual({ changed: true, via: "ruleset", details: ['created ruleset "Shopfloor gate": refs/heads/main requires "Shopfloor gate" from App 1234'] });
    expect(bodies).toEqual([
      {
        name: "Shopfloor gate",
        target: "branch",
        enforcement: "active",
        conditions: { ref_name: { include: ["refs/heads/main"], exclude: [] } },
        rules: [{ type: "required_status_checks", parameters: { required_status_checks: [gate], strict_required_status_checks_policy: false } }],
      },
    ]);

    const second = await protect({ repo: "Codertocat/Hello-World", appId, token: "ghp_admin", log, Octokit });
    expect(second.changed).toBe(false);
    expect(lines.at(-1)).toBe("Codertocat/Hello-World@main: already protected, nothing changed.");
    github.verify();
  });

  it("adds the pinned check to an existing ruleset that lacks it, keeping its other rules and checks", async () => {
    const bodies: unknown[] = [];
    const others = [{ type: "deletion" }, { type: "required_status_checks", parameters: { required_status_checks: [{ context: "ci/test" }, { context: "Shopfloor gate" }], strict_required_status_checks_policy: true } }];
    nock(api)
      .get(`${repoPath}/rulesets`)
      .query(true)
      .reply(200, [{ id: 9, name: "Shopfloor gate" }])
      .get(`${repoPath}/rulesets/9`)
      .reply(200, ruleset(others, ["refs/heads/main"]))
      .put(`${repoPath}/rulesets/9`, capture(bodies))
      .reply(200, { id: 9 });

    const outcome = await protect({ repo: "Codertocat/Hello-World", branch: "release", appId, token: "ghp_admin", log, Octokit });
    github.verify();
    expect(outcome).toEqual({
      changed: true,
      via: "ruleset",
      details: ['ruleset "Shopfloor gate": now requires "Shopfloor gate" from App 1234', 'ruleset "Shopfloor gate": now applies to refs/heads/release'],
    });
    expect(bodies).toEqual([
      {
        enforcement: "active",
        conditions: { ref_name: { include: ["refs/heads/main", "refs/heads/release"], exclude: [] } },
        rules: [
          { type: "deletion" },
          { type: "required_status_checks", parameters: { required_status_checks: [{ context: "ci/test" }, gate], strict_required_status_checks_policy: true } },
        ],
      },
    ]);
  });
});

describe("protect on GitHub Enterprise Server without rulesets", () => {
  const protection = `${repoPath}/branches/main/protection`;

  it("protects an unprotected branch with the pinned check and nothing else", async () => {
    const bodies: unknown[] = [];
    nock(ghes)
      .get(`/api/v3${repoPath}/rulesets`)
      .query(true)
      .reply(404, { message: "Not Found" })
      .get(`/api/v3${protection}`)
      .reply(404, { message: "Branch not protected" })
      .put(`/api/v3${protection}`, capture(bodies))
      .reply(200, {});

    const outcome = await protect({ repo: "Codertocat/Hello-World", branch: "main", appId, token: "ghp_admin", baseUrl: ghesApi, log, Octokit });
    github.verify();
    expect(outcome).toEqual({ changed: true, via: "branch-protection", details: ['protected main: requires "Shopfloor gate" from App 1234'] });
    expect(bodies).toEqual([
      {
        required_status_checks: { strict: false, checks: [{ context: "Shopfloor gate", app_id: appId }] },
        enforce_admins: false,
        required_pull_request_reviews: null,
        restrictions: null,
      },
    ]);
  });

  it("adds the check to existing protection, keeping the others (any source stays any source), once", async () => {
    const bodies: unknown[] = [];
    const existing = { url: "u", required_status_checks: { strict: true, contexts: ["ci/test"], checks: [{ context: "ci/test", app_id: null }] }, enforce_admins: { enabled: true } };
    const after = { ...existing, required_status_checks: { ...existing.required_status_checks, checks: [{ context: "ci/test", app_id: null }, { context: "Shopfloor gate", app_id: appId }] } };
    nock(ghes)
      .get(`/api/v3${repoPath}/rulesets`)
      .query(true)
      .times(2)
      .reply(404, { message: "Not Found" })
      .get(`/api/v3${protection}`)
      .reply(200, existing)
      .patch(`/api/v3${protection}/required_status_checks`, capture(bodies))
      .reply(200, after.required_status_checks)
      .get(`/api/v3${protection}`)
      .reply(200, after);

    const first = await protect({ repo: "Codertocat/Hello-World", branch: "main", appId, token: "ghp_admin", baseUrl: ghesApi, log, Octokit });
    const second = await protect({ repo: "Codertocat/Hello-World", branch: "main", appId, token: "ghp_admin", baseUrl: ghesApi, log, Octokit });
    github.verify();
    expect(bodies).toEqual([{ checks: [{ context: "ci/test", app_id: -1 }, { context: "Shopfloor gate", app_id: appId }] }]);
    expect(first).toMatchObject({ changed: true, via: "branch-protection" });
    expect(second).toMatchObject({ changed: false, via: "branch-protection" });
  });

  it("turns on status checks in protection that has none, carrying every other setting over", async () => {
    const bodies: unknown[] = [];
    nock(ghes)
      .get(`/api/v3${repoPath}/rulesets`)
      .query(true)
      .reply(404, { message: "Not Found" })
      .get(`/api/v3${protection}`)
      .reply(200, {
        url: "u",
        enforce_admins: { url: "u", enabled: true },
        required_pull_request_reviews: { url: "u", dismiss_stale_reviews: true, require_code_owner_reviews: false, required_approving_review_count: 2, require_last_push_approval: true },
        restrictions: { url: "u", users_url: "u", teams_url: "u", apps_url: "u", users: [{ login: "octocat" }], teams: [{ slug: "core" }], apps: [] },
        required_linear_history: { enabled: true },
        allow_force_pushes: { enabled: false },
        allow_deletions: { enabled: false },
        block_creations: { enabled: false },
        required_conversation_resolution: { enabled: true },
        lock_branch: { enabled: false },
        allow_fork_syncing: { enabled: false },
      })
      .put(`/api/v3${protection}`, capture(bodies))
      .reply(200, {});

    await protect({ repo: "Codertocat/Hello-World", branch: "main", appId, token: "ghp_admin", baseUrl: ghesApi, log, Octokit });
    github.verify();
    expect(bodies).toEqual([
      {
        required_status_checks: { strict: false, checks: [{ context: "Shopfloor gate", app_id: appId }] },
        enforce_admins: true,
        required_pull_request_reviews: { dismiss_stale_reviews: true, require_code_owner_reviews: false, required_approving_review_count: 2, require_last_push_approval: true },
        restrictions: { users: ["octocat"], teams: ["core"], apps: [] },
        required_linear_history: true,
        allow_force_pushes: false,
        allow_deletions: false,
        block_creations: false,
        required_conversation_resolution: true,
        lock_branch: false,
        allow_fork_syncing: false,
      },
    ]);
  });

  it("says plainly when the token lacks administration rights", async () => {
    nock(api)
      .get(`${repoPath}/rulesets`)
      .query(true)
      .reply(403, { message: "Resource not accessible by personal access token" })
      .get(`${repoPath}/branches/main/protection`)
      .reply(403, { message: "Resource not accessible by personal access token" });

    const failure = protect({ repo: "Codertocat/Hello-World", branch: "main", appId, token: "ghp_weak", log, Octokit });
    await expect(failure).rejects.toBeInstanceOf(ProtectError);
    await expect(failure).rejects.toThrow(/the token lacks administration rights on branch protection of main \(GitHub: Resource not accessible/);
    github.verify();
  });
});

describe("shopfloor protect (command line)", () => {
  const run = async (argv: string[], env: NodeJS.ProcessEnv) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await protectCommand(argv, env, (l) => out.push(l), (l) => err.push(l), Octokit);
    return { code, out, err: err.join("\n") };
  };
  const env = { SHOPFLOOR_ADMIN_TOKEN: "ghp_admin", APP_ID: "1234" };

  it("refuses to start without a token, with a bad repo argument or without an App id", async () => {
    expect(await run(["Codertocat/Hello-World"], { APP_ID: "1234" })).toMatchObject({ code: 2, err: expect.stringContaining("SHOPFLOOR_ADMIN_TOKEN is not set") });
    expect(await run(["Hello-World"], env)).toMatchObject({ code: 2, err: expect.stringContaining('expected one <owner/repo>, got "Hello-World"') });
    expect(await run([], env)).toMatchObject({ code: 2, err: expect.stringContaining("expected one <owner/repo>, got none") });
    expect(await run(["Codertocat/Hello-World"], { SHOPFLOOR_ADMIN_TOKEN: "t" })).toMatchObject({ code: 2, err: expect.stringContaining("APP_ID must be") });
    expect(await run(["Codertocat/Hello-World", "--branch"], env)).toMatchObject({ code: 2, err: expect.stringContaining("--branch needs a branch name") });
    github.verify();
  });

  it("talks to GHE_HOST with --branch and prints what it changed", async () => {
    nock("http://ghe.local:8080")
      .get(`/api/v3${repoPath}/rulesets`)
      .query(true)
      .reply(200, [])
      .post(`/api/v3${repoPath}/rulesets`, (body: { conditions: { ref_name: { include: string[] } } }) => body.conditions.ref_name.include[0] === "refs/heads/dev")
      .reply(201, { id: 1 });

    const result = await run(["Codertocat/Hello-World", "--branch", "dev"], { ...env, GHE_HOST: "ghe.local:8080", GHE_PROTOCOL: "http" });
    github.verify();
    expect(result).toEqual({
      code: 0,
      out: [
        'created ruleset "Shopfloor gate": refs/heads/dev requires "Shopfloor gate" from App 1234',
        'Pull requests no Shopfloor run made pass "Shopfloor gate" as "Not a Shopfloor run" while the App is running.',
        "Codertocat/Hello-World@dev: done.",
      ],
      err: "",
    });
  });

  it("exits 1 with the reason on a 403", async () => {
    nock(api)
      .get(`${repoPath}/rulesets`)
      .query(true)
      .reply(403, { message: "Must have admin rights to Repository." })
      .get(`${repoPath}/branches/main/protection`)
      .reply(403, { message: "Must have admin rights to Repository." });

    const result = await run(["Codertocat/Hello-World", "--branch=main"], env);
    github.verify();
    expect(result.code).toBe(1);
    expect(result.err).toBe("shopfloor protect: the token lacks administration rights on branch protection of main (GitHub: Must have admin rights to Repository.)");
  });
});

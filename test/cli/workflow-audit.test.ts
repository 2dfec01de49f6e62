import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { doctor } from "../../src/cli/doctor.js";
import { auditWorkflowText, checkWorkflows, filterPattern, filterSelects, parseDoctorArgs, runTriggers } from "../../src/cli/workflow-audit.js";
import { api, capture, fenceGitHub } from "../github/kit.js";

const repoPath = "/repos/Codertocat/Hello-World";
const Octokit = ProbotOctokit.defaults({ throttle: { enabled: false }, retry: { enabled: false } });
const tokenEnv = { GITHUB_TOKEN: "ghp_reader" };

let github: ReturnType<typeof fenceGitHub>;
beforeEach(() => {
  github = fenceGitHub();
});
afterEach(() => github.close());

const audit = (text: string, defaultBranch = "main") => auditWorkflowText(".github/workflows/w.yml", text, defaultBranch);

describe("GitHub's filter patterns", () => {
  it.each([
    ["*", "main", true],
    ["*", "shopfloor/12-add-divide", false], // `*` stops at `/`
    ["**", "shopfloor/12-add-divide", true],
    ["shopfloor/*", "shopfloor/12-add-divide", true],
    ["shopfloor/*", "shopfloor/a/b", false],
    ["shopfloor/**", "shopfloor/a/b", true],
    ["shopfloor/[0-9]*", "shopfloor/12-add-divide", true],
    ["shopfloor/[a-z]*", "shopfloor/12-add-divide", false],
    ["**/README.md", "README.md", true],
    ["**/README.md", "docs/en/README.md", true],
    ["shopp?floor/*", "shopfloor/7", true], // `?`: zero or one of the preceding character
    ["shopp?floor/*", "shoppfloor/7", true],
    ["v1+", "v111", true],
    ["v1+", "v", false],
    ["release\\*", "release*", true],
    ["release\\*", "release-1", false],
    ["main", "shopfloor/12-add-divide", false],
    ["feature/*", "shopfloor/12-add-divide", false],
    ["shop.floor/*", "shopXfloor/1", false], // `.` is literal
  ])("%s against %s → %s", (pattern, name, expected) => {
    expect(filterPattern(pattern)!.test(name)).toBe(expected);
  });

  it("refuses what GitHub would not read", () => {
    for (const bad of ["[]", "[a-", "[%]", "trailing\\"]) expect(filterPattern(bad)).toBeUndefined();
    expect(filterSelects(["main", "[%]"], "main")).toBeUndefined();
  });

  it("lets the last matching pattern win, `!` negating", () => {
    expect(filterSelects(["**", "!shopfloor/**"], "shopfloor/7")).toBe(false);
    expect(filterSelects(["!shopfloor/**", "**"], "shopfloor/7")).toBe(true);
    expect(filterSelects(["**", "!shopfloor/**"], "main")).toBe(true);
    expect(filterSelects([], "main")).toBe(false);
  });
});

describe("which triggers run a Shopfloor branch's code", () => {
  it("reads `on` as a string, a list or a map", () => {
    expect(runTriggers("push", "main")).toEqual([{ event: "push" }]);
    expect(runTriggers(["push", "pull_request", "issues"], "main")).toEqual([{ event: "push" }, { event: "pull_request", note: "to main" }]);
    expect(runTriggers({ push: null, pull_request_target: { types: ["opened"] }, schedule: [{ cron: "0 0 * * *" }] }, "main")).toEqual([
      { event: "push" },
      { event: "pull_request_target", note: "to main" },
    ]);
  });

  it("follows push branch filters and ignores tag-only pushes", () => {
    expect(runTriggers({ push: { branches: ["main"] } }, "main")).toEqual([]);
    expect(runTriggers({ push: { "branches-ignore": ["shopfloor/**"] } }, "main")).toEqual([]);
    expect(runTriggers({ push: { "branches-ignore": ["shopfloor/*"] } }, "main")).toEqual([]);
    expect(runTriggers({ push: { branches: ["**", "!shopfloor/**"] } }, "main")).toEqual([]);
    expect(runTriggers({ push: { tags: ["v*"] } }, "main")).toEqual([]);
    expect(runTriggers({ push: { branches: ["shopfloor/*-*"] } }, "main")).toEqual([{ event: "push" }]);
    expect(runTriggers({ push: { branches: ["main"], tags: ["v*"] } }, "main")).toEqual([]);
    expect(runTriggers({ push: { branches: ["*"] } }, "main")).toEqual([]);
  });

  it("treats a paths filter or an unreadable branch filter as 'may run'", () => {
    expect(runTriggers({ push: { paths: ["src/**"] } }, "main")).toEqual([{ event: "push", note: "paths filter: may run" }]);
    expect(runTriggers({ push: { branches: ["[%]"] } }, "main")).toEqual([{ event: "push", note: "branch filter not understood: may run" }]);
  });

  it("matches pull request branch filters against the base, the default branch", () => {
    expect(runTriggers({ pull_request: { branches: ["main"] } }, "main")).toEqual([{ event: "pull_request", note: "to main" }]);
    expect(runTriggers({ pull_request: { branches: ["release/**"] } }, "main")).toEqual([]);
    expect(runTriggers({ pull_request: { "branches-ignore": ["trunk"] } }, "trunk")).toEqual([]);
    expect(runTriggers({ pull_request: { branches: ["shopfloor/**"] } }, "main")).toEqual([]);
  });

  it("counts the run branch's creation and the reviews Shopfloor's reviewers post", () => {
    expect(runTriggers(["create", "pull_request_review", "pull_request_review_comment", "issue_comment"], "main").map((t) => t.event)).toEqual([
      "create",
      "pull_request_review",
      "pull_request_review_comment",
    ]);
  });
});

describe("secrets in reach and guards", () => {
  it("flags a push workflow without filters whose job reads secrets, naming them", () => {
    const w = audit(`
on: push
env:
  SENTRY: \${{ secrets.SENTRY_DSN }}
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: npm test
        env:
          NPM_TOKEN: \${{ secrets.NPM_TOKEN }}
          TOKEN: \${{ secrets.GITHUB_TOKEN }}
      - run: echo \${{ secrets['CODECOV-TOKEN'] }}
  lint:
    runs-on: ubuntu-latest
    steps: [{ run: npm run lint }]
`);
    expect(w).toEqual({
      path: ".github/workflows/w.yml",
      triggers: [{ event: "push" }],
      jobs: [
        { id: "test", secrets: ["SENTRY_DSN", "NPM_TOKEN", "CODECOV-TOKEN"] },
        { id: "lint", secrets: ["SENTRY_DSN"] }, // workflow-level env reaches every job
      ],
    });
  });

  it("does not count GITHUB_TOKEN as a secret", () => {
    const w = audit(`
on: [push, pull_request]
jobs:
  release-notes:
    runs-on: ubuntu-latest
    steps:
      - run: gh pr view
        env: { GH_TOKEN: "\${{ secrets.GITHUB_TOKEN }}", ALSO: "\${{ secrets.github_token }}" }
`);
    expect(w.triggers.length).toBe(2);
    expect(w.jobs).toEqual([]);
  });

  it("reads `secrets: inherit` and the whole secrets context as every secret", () => {
    const w = audit(`
on: { pull_request: { branches: [main] } }
jobs:
  call:
    uses: ./.github/workflows/deploy.yml
    secrets: inherit
  dump:
    runs-on: ubuntu-latest
    steps: [{ run: "echo '\${{ toJSON(secrets) }}'" }]
`);
    expect(w.jobs).toEqual([
      { id: "call", secrets: ["every secret (secrets: inherit)"] },
      { id: "dump", secrets: ["every secret (the whole secrets context)"] },
    ]);
  });

  it.each([
    ["environment: production", "environment production — make sure it has required reviewers"],
    ["environment: { name: staging, url: 'https://staging.example' }", "environment staging — make sure it has required reviewers"],
    ["if: github.actor != 'shopfloor[bot]'", "if: github.actor != 'shopfloor[bot]'"],
    ["if: github.triggering_actor != 'acme-bot'", "if: github.triggering_actor != 'acme-bot'"],
    ["if: \"!startsWith(github.head_ref || github.ref_name, 'shopfloor/')\"", "if: !startsWith(github.head_ref || github.ref_name, 'shopfloor/')"],
    ["if: \"!contains(github.actor, '[bot]')\"", "if: !contains(github.actor, '[bot]')"],
    ["if: github.ref == 'refs/heads/main'", "if: github.ref == 'refs/heads/main' — runs only on that ref"],
    ["if: github.event_name == 'push' && github.ref_name == 'main'", "if: github.event_name == 'push' && github.ref_name == 'main' — runs only on that ref"],
    ["if: startsWith(github.ref, 'refs/tags/v')", "if: startsWith(github.ref, 'refs/tags/v') — runs only on that ref"],
    ["if: false", "if: false (never runs)"],
  ])("a job with `%s` is guarded", (line, guard) => {
    const w = audit(`
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    ${line}
    steps: [{ run: ./deploy, env: { KEY: "\${{ secrets.DEPLOY_KEY }}" } }]
`);
    expect(w.jobs).toEqual([{ id: "deploy", secrets: ["DEPLOY_KEY"], guard }]);
  });

  it.each([
    "if: github.event_name == 'push'",
    "if: github.ref == 'refs/heads/main' || github.event_name == 'pull_request'",
    "if: github.ref != 'refs/heads/main'",
    "if: github.ref_name == 'shopfloor/12-add-divide'",
    "if: github.actor == 'shopfloor[bot]'",
  ])("a job with `%s` is not guarded", (line) => {
    const w = audit(`
on: push
jobs:
  deploy:
    ${line}
    runs-on: ubuntu-latest
    steps: [{ run: ./deploy, env: { KEY: "\${{ secrets.DEPLOY_KEY }}" } }]
`);
    expect(w.jobs).toEqual([{ id: "deploy", secrets: ["DEPLOY_KEY"] }]);
  });

  it("reports a file that is not YAML or not a workflow instead of failing", () => {
    expect(audit("on: push\njobs: [unclosed").error).toMatch(/^not readable as YAML \(/);
    expect(audit("just: text").error).toBe("not a workflow (no `on` or no `jobs`)");
  });
});

/** A repository whose `.github/workflows` holds `files`, read with a token; each request made once. */
function serveRepo(files: Record<string, string>, opts: { base?: string; prefix?: string; defaultBranch?: string; auth?: string } = {}) {
  const { base = api, prefix = "", defaultBranch = "main", auth = "token ghp_reader" } = opts;
  const scope = nock(base, { reqheaders: { authorization: auth } })
    .get(`${prefix}${repoPath}`)
    .reply(200, { full_name: "Codertocat/Hello-World", default_branch: defaultBranch })
    .get(`${prefix}${repoPath}/contents/.github%2Fworkflows`)
    .reply(200, [
      ...Object.keys(files).map((name) => ({ type: "file", name, path: `.github/workflows/${name}` })),
      { type: "file", name: "README.md", path: ".github/workflows/README.md" },
      { type: "dir", name: "templates", path: ".github/workflows/templates" },
    ]);
  for (const [name, text] of Object.entries(files)) {
    scope.get(`${prefix}${repoPath}/contents/.github%2Fworkflows%2F${name}`).reply(200, { type: "file", name, encoding: "base64", content: Buffer.from(text).toString("base64") });
  }
  return scope;
}

const workflows = {
  "ci.yml": `
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps: [{ uses: actions/checkout@v4 }, { run: npm test, env: { GH_TOKEN: "\${{ secrets.GITHUB_TOKEN }}" } }]
`,
  "deploy.yml": `
on:
  push:
    branches: ['**']
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps: [{ run: ./deploy, env: { AWS_ACCESS_KEY_ID: "\${{ secrets.AWS_ACCESS_KEY_ID }}", AWS_SECRET_ACCESS_KEY: "\${{ secrets.AWS_SECRET_ACCESS_KEY }}" } }]
  publish:
    runs-on: ubuntu-latest
    environment: production
    steps: [{ run: npm publish, env: { NPM_TOKEN: "\${{ secrets.NPM_TOKEN }}" } }]
`,
  "preview.yaml": `
on:
  pull_request_target:
    branches: [main]
jobs:
  preview:
    runs-on: ubuntu-latest
    steps: [{ run: ./preview, env: { VERCEL_TOKEN: "\${{ secrets.VERCEL_TOKEN }}" } }]
`,
  "pr-deploy.yml": `
on:
  pull_request:
    branches: [main]
jobs:
  staging:
    runs-on: ubuntu-latest
    steps: [{ run: ./deploy staging, env: { DEPLOY_KEY: "\${{ secrets.STAGING_DEPLOY_KEY }}" } }]
  notify:
    if: github.actor != 'shopfloor[bot]'
    uses: ./.github/workflows/notify.yml
    secrets: inherit
`,
  "release.yml": `
on:
  push:
    branches: [main]
jobs:
  release: { runs-on: ubuntu-latest, steps: [{ run: ./release, env: { NPM_TOKEN: "\${{ secrets.NPM_TOKEN }}" } }] }
`,
  "nightly.yml": `
on:
  push:
    branches-ignore: ['shopfloor/**']
jobs:
  e2e: { runs-on: ubuntu-latest, steps: [{ run: ./e2e, env: { KEY: "\${{ secrets.E2E_KEY }}" } }] }
`,
  "broken.yml": "on: push\njobs:\n  a: [unclosed\n",
};

describe("shopfloor doctor --repo", () => {
  it("lists the workflows that run agent code with secrets, pull_request_target first, and fails the check", async () => {
    serveRepo(workflows);
    const check = await checkWorkflows("Codertocat/Hello-World", tokenEnv, Octokit);
    github.verify();
    expect(check).toEqual({
      name: "workflows",
      ok: false,
      detail: "Codertocat/Hello-World: 3 of 7 workflows run agent code with secrets in reach",
      lines: [
        "‼ .github/workflows/preview.yaml — on pull_request_target (to main)",
        "    pull_request_target runs with the repository's secrets and a write token: never check out the PR's head in it",
        "    ✗ job preview, unguarded, can read VERCEL_TOKEN",
        "✗ .github/workflows/deploy.yml — on push",
        "    ✗ job deploy, unguarded, can read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
        "    ✓ job publish: environment production — make sure it has required reviewers",
        "✗ .github/workflows/pr-deploy.yml — on pull_request (to main)",
        "    ✗ job staging, unguarded, can read STAGING_DEPLOY_KEY",
        "    ✓ job notify: if: github.actor != 'shopfloor[bot]'",
        "✓ .github/workflows/ci.yml — on push, pull_request (to main); no job reads secrets",
        "? .github/workflows/broken.yml: not readable as YAML (Flow sequence in block collection must be sufficiently indented and end with a ] at line 4, column 1) — check it by hand",
        "· not run by shopfloor/* branches or their PRs: .github/workflows/nightly.yml, .github/workflows/release.yml",
      ],
    });
  });

  it("passes when every job with secrets is guarded or out of reach", async () => {
    serveRepo({ "ci.yml": workflows["ci.yml"], "release.yml": workflows["release.yml"] }, { defaultBranch: "trunk" });
    const check = await checkWorkflows("Codertocat/Hello-World", tokenEnv, Octokit);
    github.verify();
    expect(check).toMatchObject({ ok: true, detail: "Codertocat/Hello-World: 1 of 2 workflows run agent code, none with unguarded secrets" });
  });

  it("says 'no workflows' when .github/workflows does not exist", async () => {
    nock(api).get(repoPath).reply(200, { default_branch: "main" }).get(`${repoPath}/contents/.github%2Fworkflows`).reply(404, { message: "Not Found" });
    const check = await checkWorkflows("Codertocat/Hello-World", tokenEnv, Octokit);
    github.verify();
    expect(check).toEqual({ name: "workflows", ok: true, detail: "Codertocat/Hello-World: no workflows", lines: [] });
  });

  it("reads as the App's installation with a read-only token scoped to the repo, on GitHub Enterprise Server", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    const tokenBodies: unknown[] = [];
    nock("http://ghe.local:8080", { reqheaders: { authorization: /^bearer / } })
      .get(`/api/v3${repoPath}/installation`)
      .reply(200, { id: 42 })
      .post("/api/v3/app/installations/42/access_tokens", capture(tokenBodies))
      .reply(201, { token: "ghs_read", expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: { contents: "read", metadata: "read" } });
    serveRepo({ "deploy.yml": workflows["deploy.yml"] }, { base: "http://ghe.local:8080", prefix: "/api/v3", auth: "token ghs_read" });

    const env = { APP_ID: "1234", PRIVATE_KEY: privateKey.replace(/\n/g, "\\n"), GITHUB_TOKEN: "ghp_unused", GHE_HOST: "ghe.local:8080", GHE_PROTOCOL: "http" };
    const check = await checkWorkflows("Codertocat/Hello-World", env, Octokit);
    github.verify();
    expect(tokenBodies).toEqual([{ repositories: ["Hello-World"], permissions: { contents: "read", metadata: "read" } }]);
    expect(check).toMatchObject({ ok: false, detail: "Codertocat/Hello-World: 1 of 1 workflows run agent code with secrets in reach" });
  });

  it("falls back to GITHUB_TOKEN when the App is not installed on the repo", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    nock(api).get(`${repoPath}/installation`).reply(404, { message: "Not Found" });
    serveRepo({});
    const check = await checkWorkflows("Codertocat/Hello-World", { APP_ID: "1234", PRIVATE_KEY: privateKey, ...tokenEnv }, Octokit);
    github.verify();
    expect(check.detail).toBe("Codertocat/Hello-World: no workflows");

    nock(api).get(`${repoPath}/installation`).reply(404, { message: "Not Found" });
    const alone = await checkWorkflows("Codertocat/Hello-World", { APP_ID: "1234", PRIVATE_KEY: privateKey }, Octokit);
    github.verify();
    expect(alone).toEqual({ name: "workflows", ok: false, detail: "cannot read Codertocat/Hello-World: the App (APP_ID 1234) is not installed on Codertocat/Hello-World, and no GITHUB_TOKEN is set", lines: [] });
  });

  it("fails the check, without a request or a crash, when there are no credentials or they are refused", async () => {
    expect(await checkWorkflows("Codertocat/Hello-World", {}, Octokit)).toMatchObject({ ok: false, detail: expect.stringContaining("cannot read Codertocat/Hello-World: no credentials") });
    nock(api).get(repoPath).reply(401, { message: "Bad credentials" });
    expect(await checkWorkflows("Codertocat/Hello-World", tokenEnv, Octokit)).toEqual({ name: "workflows", ok: false, detail: "cannot read Codertocat/Hello-World: credentials refused (401)", lines: [] });
    github.verify();
  });

  it("prints the findings under the doctor's check and fails the doctor", async () => {
    const root = await mkdtemp(join(tmpdir(), "shopfloor-audit-"));
    try {
      serveRepo({ "deploy.yml": workflows["deploy.yml"] });
      const lines: string[] = [];
      const report = await doctor({ env: tokenEnv, stateDir: join(root, "state"), workDir: join(root, "work"), log: (l) => lines.push(l), repo: "Codertocat/Hello-World", Octokit });
      github.verify();
      expect(report.ok).toBe(false);
      const at = lines.indexOf("✗ workflows: Codertocat/Hello-World: 1 of 1 workflows run agent code with secrets in reach");
      expect(at).toBeGreaterThan(-1);
      expect(lines.slice(at + 1, at + 4)).toEqual([
        "    ✗ .github/workflows/deploy.yml — on push",
        "        ✗ job deploy, unguarded, can read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
        "        ✓ job publish: environment production — make sure it has required reviewers",
      ]);
      expect(lines.join("\n")).not.toContain("ghp_reader");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("takes --repo from the command line", () => {
    expect(parseDoctorArgs([])).toEqual({});
    expect(parseDoctorArgs(["--repo", "acme/shop"])).toEqual({ repo: "acme/shop" });
    expect(parseDoctorArgs(["--repo=acme/shop.js"])).toEqual({ repo: "acme/shop.js" });
    expect(parseDoctorArgs(["--repo"])).toBe('--repo needs <owner/name>, got ""');
    expect(parseDoctorArgs(["--repo", "shop"])).toBe('--repo needs <owner/name>, got "shop"');
    expect(parseDoctorArgs(["--fix"])).toBe("unknown argument --fix");
  });
});

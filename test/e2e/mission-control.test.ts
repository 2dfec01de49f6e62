import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startApp, type AppHarness } from "../kit/app.js";
import { keepScreenshot, startBrowser } from "../kit/browser.js";
import { startOAuthServer } from "../kit/oauth-server.js";
import type { ModelScript, ReplyTurn } from "../kit/model-server.js";
import { configYaml, goodFarewell, labeledPayload, projectFiles, reviewerScript } from "./scenario.js";
import { blockedTurn, finishTurn, journal, planTurn, quiesce, runId, writeTurn } from "./people-kit.js";

/**
 * Mission Control in Debian's Chromium against the real app: people sign in through the loopback
 * OAuth server, watch a run live, steer it, and are refused what they may not do.
 */
const clientId = "Iv1.kitmissioncontrol";
const clientSecret = "kit-client-secret-never-shown";
const runPath = "/shopfloor/runs/Codertocat/Hello-World/1";

let app: AppHarness;
let oauth: Awaited<ReturnType<typeof startOAuthServer>>;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  oauth = await startOAuthServer({
    clientId,
    clientSecret,
    users: {
      alice: { repos: { "Codertocat/Hello-World": "write" } },
      bob: { repos: { "Codertocat/Hello-World": "read" } },
      carol: { repos: { "someone-else/elsewhere": "write" } },
    },
  });
  // The generator first reports blocked (the run escalates); the retry's first turn thinks for a
  // moment, so the page can be seen showing the run as working before it is ready.
  const script: ModelScript = {
    ...reviewerScript(1),
    "claude-haiku-4-5": [planTurn],
    "gpt-5-mini": [blockedTurn, { ...(writeTurn(goodFarewell) as ReplyTurn), delayMs: 1_500 }, finishTurn()],
  };
  app = await startApp({
    script,
    files: projectFiles,
    configYaml,
    env: { GITHUB_CLIENT_ID: clientId, GITHUB_CLIENT_SECRET: clientSecret, SHOPFLOOR_GITHUB_URL: oauth.url, SHOPFLOOR_LIVE_MS: "200" },
    netConnect: [new URL(oauth.url).host],
  });
  app.github.permissions = { Codertocat: "write", alice: "write", bob: "read" };
  browser = await startBrowser();
}, 60_000);

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await quiesce(app);
  await app?.close();
  await oauth?.close();
});

/** A fresh browser profile signed in as `login` through the OAuth server, on the runs view. */
async function signedIn(login: string): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  oauth.signInAs(login);
  await page.goto(`${app.url}/shopfloor`);
  await page.getByRole("link", { name: /sign in with github/i }).click();
  await page.waitForURL(`${app.url}/shopfloor`);
  await expect.poll(() => page.getByText(`@${login}`).count()).toBeGreaterThan(0);
  return page;
}

/** The runs view's row of our run, as the person reads it. */
const row = (page: Page) => page.locator("#live tr", { hasText: "Hello-World#1" });

describe("Mission Control in a browser", () => {
  it("shows the sign-in page first, and the escalated run to a writer as needing them", async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const stranger = await context.newPage();
    await stranger.goto(`${app.url}/shopfloor`);
    await expect.poll(() => stranger.getByRole("link", { name: /sign in with github/i }).count()).toBe(1);
    expect(await stranger.content()).not.toContain("Hello-World#1");
    await keepScreenshot(stranger, "sign-in");

    const alice = await signedIn("alice");
    expect(await app.deliver("issues", labeledPayload())).toBe(200);
    // The row arrives over server-sent events: the page was loaded before the run existed.
    await expect.poll(() => row(alice).innerText(), { timeout: 60_000 }).toMatch(/needs you/);
    expect(await row(alice).innerText()).toContain("escalated: The generate worker on \"Implement farewell(name)\" could not finish");
    await keepScreenshot(alice, "runs");
  }, 90_000);

  it("never shows a run to someone who cannot read its repository", async () => {
    const carol = await signedIn("carol");
    expect(await row(carol).count()).toBe(0);
    const answer = await carol.goto(`${app.url}${runPath}`);
    expect(answer?.status()).toBe(404);
    expect(await carol.content()).not.toContain("greeting style");
  }, 60_000);

  it("refuses an action from a reader, and the run does not move", async () => {
    const bob = await signedIn("bob");
    await bob.goto(`${app.url}${runPath}`);
    await bob.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => bob.getByRole("alert").innerText()).toContain("@bob needs write access to Codertocat/Hello-World to cancel this run.");
    await keepScreenshot(bob, "refused");
    expect((await app.readRun(runId))?.phase).toBe("escalated");
    expect(journal(app).filter((e) => e.event.type === "command.received")).toEqual([]);
  }, 60_000);

  it("retries the escalated run from the page, and the runs view follows it from working to ready without a reload", async () => {
    const alice = await signedIn("alice");
    const watcher = await alice.context().newPage();
    await watcher.goto(`${app.url}/shopfloor`);
    await watcher.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));

    await alice.goto(`${app.url}${runPath}`);
    // The first Tab reaches the skip link, past the navigation to the content.
    await alice.bringToFront();
    await alice.keyboard.press("Tab");
    expect(await alice.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await alice.getByLabel("Note").fill("greet people the way src/greet.js does");
    // By keyboard alone: the form submits with Enter.
    await alice.getByRole("button", { name: "Retry" }).focus();
    await alice.keyboard.press("Enter");
    await expect.poll(() => alice.getByRole("status").innerText()).toContain("retry sent");

    await expect.poll(() => row(watcher).innerText(), { timeout: 30_000, interval: 100 }).toMatch(/working/);
    await expect.poll(() => row(watcher).innerText(), { timeout: 90_000 }).toMatch(/ready for review/);
    expect(await watcher.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
    await keepScreenshot(watcher, "runs-ready");

    const run = await app.waitForRun(runId);
    expect(run.phase).toBe("gated");
    expect(run.gate?.conclusion).toBe("success");
    const command = journal(app).find((e) => e.event.type === "command.received")?.event;
    expect(command).toMatchObject({ command: "retry", by: "alice", source: "mission-control", note: "greet people the way src/greet.js does" });
    const replies = (app.github.comments.get(1) ?? []).map((c) => c.body);
    expect(replies.some((body) => body.includes("@alice (from Mission Control) retrying from `building`."))).toBe(true);

    // The run view shows what a person needs to judge it.
    await alice.reload();
    const text = await alice.locator("main").innerText();
    for (const part of ["Validation contract", "Definition of Done", "Decision trace", "Reviews"]) expect(text).toContain(part);
    await keepScreenshot(alice, "run");
    await alice.goto(`${app.url}/shopfloor/floor`);
    await expect.poll(() => alice.locator("main").innerText()).toContain("Codertocat/Hello-World");
    await keepScreenshot(alice, "floor");
    expect(app.github.unexpected).toEqual([]);
  }, 150_000);

  it("serves what an operator graphs on /metrics: runs by phase, jobs, spend, webhook acks and GitHub requests", async () => {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    expect(text).toMatch(/^shopfloor_runs\{phase="gated"\} 1$/m);
    expect(text).toMatch(/^shopfloor_job_duration_seconds_count\{role="generate",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^shopfloor_job_duration_seconds_count\{role="generate",outcome="blocked"\} 1$/m);
    expect(text).toMatch(/^shopfloor_model_tokens_total\{route="openai\/gpt-5-mini",kind="input"\} [1-9]\d*$/m);
    expect(text).toMatch(/^shopfloor_webhook_ack_seconds_count\{status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^shopfloor_github_requests_total\{method="POST",status="201"\} [1-9]\d*$/m);
  });
});

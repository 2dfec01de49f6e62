import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`, done by .ci/run), never a downloaded build. */
export const chromiumPath = process.env.SHOPFLOOR_CHROMIUM ?? "/usr/bin/chromium";

/** Where screenshots of each view are kept after a test run, for a person to look at. */
export const screenshotDir = join(new URL("../..", import.meta.url).pathname, "test-artifacts", "screenshots");

/**
 * A headless Chromium for Mission Control's browser tests. Root (as in CI) cannot use
 * Chromium's own sandbox, so it is off there; the pages under test are our own on loopback.
 */
export async function startBrowser(): Promise<Browser> {
  const asRoot = process.getuid?.() === 0;
  return chromium.launch({ executablePath: chromiumPath, args: asRoot ? ["--no-sandbox"] : [] });
}

/** Full-page screenshot under test-artifacts/screenshots/<name>.png. */
export async function keepScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

import nock from "nock";
import { ProbotOctokit } from "probot";
import type { InstallationOctokit } from "../../src/github/octokit.js";

export const api = "https://api.github.com";
export const at = { owner: "Codertocat", repo: "Hello-World" };

/** An installation-style client; Octokit's write spacing and retries are not under test here. */
export function testOctokit(): InstallationOctokit {
  return new ProbotOctokit({ auth: { token: "ghs_test" }, throttle: { enabled: false }, retry: { enabled: false } });
}

/**
 * GitHub fenced with nock: tests list the exact requests they expect, and anything else is
 * refused and recorded. `verify()` asserts every expected request was made and nothing else.
 */
export function fenceGitHub(): { unexpected: string[]; verify(): void; close(): void } {
  const unexpected: string[] = [];
  const onNoMatch = (req: { method?: string; path?: string; href?: string }) => unexpected.push(`${req.method} ${req.href ?? req.path}`);
  nock.disableNetConnect();
  nock.emitter.on("no match", onNoMatch);
  return {
    unexpected,
    verify() {
      if (unexpected.length > 0) throw new Error(`unexpected requests to GitHub:\n${unexpected.join("\n")}`);
      if (!nock.isDone()) throw new Error(`expected requests not made:\n${nock.pendingMocks().join("\n")}`);
    },
    close() {
      nock.emitter.off("no match", onNoMatch);
      nock.cleanAll();
      nock.enableNetConnect();
    },
  };
}

/** Records the JSON body of a request for an exact assertion afterwards; matches any body. */
export function capture(into: unknown[]): (body: unknown) => boolean {
  return (body) => {
    into.push(body);
    return true;
  };
}

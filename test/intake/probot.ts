import { generateKeyPairSync } from "node:crypto";
import examples from "@octokit/webhooks-examples";
import nock from "nock";
import { Probot, ProbotOctokit } from "probot";
import type { Event } from "../../src/domain/index.js";
import { api } from "../github/kit.js";

export const appId = 1234;
/** One key for the file: generating RSA keys is slow, and the key is never checked by the mock. */
const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

/** A real Probot whose Octokit neither spaces writes nor retries: neither is under test. */
export async function probotWith(register: (app: Probot) => void): Promise<Probot> {
  const probot = new Probot({
    appId,
    privateKey,
    logLevel: "fatal",
    // The function form: Probot passes its own `throttle` options, which would replace an object default.
    Octokit: ProbotOctokit.defaults((options: ConstructorParameters<typeof ProbotOctokit>[0]) => ({
      ...options,
      throttle: { ...options?.throttle, enabled: false },
      retry: { enabled: false },
    })),
  });
  await probot.load((app) => register(app));
  return probot;
}

/** What the handler persisted, and how often it woke the engine. */
export function inbox(answer = true) {
  const persisted: { deliveryId: string; event: Event }[] = [];
  let wakes = 0;
  return {
    persisted,
    get wakes() {
      return wakes;
    },
    persist: async (deliveryId: string, event: Event) => {
      persisted.push({ deliveryId, event });
      return answer;
    },
    wake: () => {
      wakes++;
    },
  };
}

/** A fresh copy of the first example of `name` with `action`, from @octokit/webhooks-examples. */
export function example(name: string, action: string): any {
  const all = examples as unknown as { name: string; examples: any[] }[];
  const found = all.find((e) => e.name === name)?.examples.find((e) => e.action === action);
  if (!found) throw new Error(`no ${name}.${action} example`);
  return structuredClone(found);
}

/** The installation token exchange Probot makes before the first API call of a delivery. */
export function expectInstallationToken(installationId: number): void {
  nock(api)
    .post(`/app/installations/${installationId}/access_tokens`)
    .reply(201, { token: "ghs_intake", expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {}, repository_selection: "all" });
}

/** `GET …/collaborators/<user>/permission`, answered with a role (`triage` folds into `read`). */
export function expectPermission(owner: string, repo: string, user: string, role: "admin" | "maintain" | "write" | "triage" | "read" | "none"): void {
  const legacy = role === "maintain" ? "write" : role === "triage" ? "read" : role;
  nock(api).get(`/repos/${owner}/${repo}/collaborators/${user}/permission`).reply(200, { permission: legacy, role_name: role, user: { login: user } });
}

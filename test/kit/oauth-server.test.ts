import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startOAuthServer, type OAuthServer } from "./oauth-server.js";

let github: OAuthServer;

beforeEach(async () => {
  github = await startOAuthServer({ clientId: "cid", clientSecret: "csecret", users: { alice: { repos: { "Codertocat/Hello-World": "write" } } } });
});
afterEach(() => github.close());

async function codeFor(login: string | null, redirect = "http://app.invalid/cb"): Promise<URL> {
  github.signInAs(login);
  const res = await fetch(`${github.url}/login/oauth/authorize?client_id=cid&redirect_uri=${encodeURIComponent(redirect)}&state=s1`, { redirect: "manual" });
  expect(res.status).toBe(302);
  return new URL(res.headers.get("location")!);
}

async function exchange(params: Record<string, string>, asForm = false) {
  const res = await fetch(`${github.url}/login/oauth/access_token`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": asForm ? "application/x-www-form-urlencoded" : "application/json" },
    body: asForm ? new URLSearchParams(params).toString() : JSON.stringify(params),
  });
  return (await res.json()) as Record<string, string>;
}

describe("the loopback OAuth server", () => {
  it("plays GitHub's web flow: a single-use code for the person signed in, then their token", async () => {
    const back = await codeFor("alice");
    expect(back.searchParams.get("state")).toBe("s1");
    const code = back.searchParams.get("code")!;
    const issued = await exchange({ client_id: "cid", client_secret: "csecret", code }, true);
    expect(issued).toMatchObject({ token_type: "bearer", scope: "" });
    expect(await exchange({ client_id: "cid", client_secret: "csecret", code })).toMatchObject({ error: "bad_verification_code" });

    const user = await fetch(`${github.url}/api/v3/user`, { headers: { authorization: `Bearer ${issued.access_token}` } });
    expect(await user.json()).toMatchObject({ login: "alice" });
    expect((await fetch(`${github.url}/api/v3/user`)).status).toBe(401);
    expect(github.tokensOf("alice")).toEqual([issued.access_token]);
  });

  it("refuses a wrong client secret, an unknown client, and a person who declines", async () => {
    const code = (await codeFor("alice")).searchParams.get("code")!;
    expect(await exchange({ client_id: "cid", client_secret: "wrong", code })).toMatchObject({ error: "incorrect_client_credentials" });
    expect((await fetch(`${github.url}/login/oauth/authorize?client_id=other&redirect_uri=http://x.invalid/`, { redirect: "manual" })).status).toBe(404);
    const declined = await codeFor(null);
    expect(declined.searchParams.get("error")).toBe("access_denied");
    expect(declined.searchParams.has("code")).toBe(false);
  });

  it("shows a repository only to people who may read it, with their permissions", async () => {
    const code = (await codeFor("alice")).searchParams.get("code")!;
    const { access_token } = await exchange({ client_id: "cid", client_secret: "csecret", code, redirect_uri: "http://app.invalid/cb" });
    const get = (path: string) => fetch(`${github.url}/api/v3/repos/${path}`, { headers: { authorization: `token ${access_token}` } });
    const repo = await get("codertocat/hello-world");
    expect(repo.status).toBe(200);
    expect(await repo.json()).toMatchObject({ full_name: "Codertocat/Hello-World", permissions: { pull: true, push: true, admin: false } });
    expect((await get("other/repo")).status).toBe(404);
    expect(github.requests.at(-1)).toEqual({ method: "GET", path: "/api/v3/repos/other/repo" });
  });
});

import { html } from "./html.js";
import { layout } from "./layout.js";

/**
 * The door. Configured: one link to GitHub sign-in. Not configured: how to configure it, and
 * nothing else, since without sign-in nobody can be shown which runs they may read.
 */
export function renderSignInPage(input: { configured: boolean; next?: string }): string {
  if (input.configured) {
    // Only a path on this site: a sign-in must not become a way to send people elsewhere.
    const next = input.next && input.next.startsWith("/") && !input.next.startsWith("//") && !input.next.includes("\\") ? input.next : undefined;
    return layout({
      title: "Sign in",
      top: html`<h1>Sign in to Mission Control</h1>
<p>Mission Control shows the Shopfloor runs of the repositories you can read on GitHub, and lets people with write access steer them.</p>
<p><a class="button" href="/shopfloor/login${next ? `?next=${encodeURIComponent(next)}` : ""}">Sign in with GitHub</a></p>`,
    });
  }
  return layout({
    title: "Sign-in is not set up",
    top: html`<h1>Mission Control needs GitHub sign-in</h1>
<p>People sign in with the GitHub App's own OAuth client, so each person sees only the runs of repositories they can read. This server has no OAuth client settings yet. To enable Mission Control, set these environment variables and restart Shopfloor:</p>
<dl>
<dt><code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code></dt>
<dd>If the App was created with Shopfloor's manifest flow, both are already in <code>.env</code>. For an App made by hand: open the App's settings page on GitHub (Settings → Developer settings → GitHub Apps → the App), copy its <strong>Client ID</strong>, choose <strong>Generate a new client secret</strong>, and add the callback URL <code>&lt;public url&gt;/shopfloor/auth/callback</code> under <strong>Callback URL</strong>.</dd>
<dt><code>SHOPFLOOR_PUBLIC_URL</code> (optional)</dt>
<dd>The address people open Shopfloor at, such as <code>https://shopfloor.example.com</code>, when it is behind a proxy: the callback URL is built from it.</dd>
<dt><code>SHOPFLOOR_SESSION_SECRET</code> (optional)</dt>
<dd>A long random string that signs sign-in sessions. Set the same value on every replica so a session outlives a restart and works on each of them.</dd>
</dl>`,
  });
}

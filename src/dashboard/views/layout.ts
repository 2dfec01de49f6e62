import { html, raw, type Html } from "./html.js";

export interface Viewer {
  login: string;
}
export interface Flash {
  kind: "ok" | "error";
  text: string;
}

/**
 * The whole client: one EventSource per page, no polling. An `update` event carries the live
 * region as the server rendered it; a dropped stream is reconnected by EventSource itself.
 * The link that had focus gets it back, so a keyboard user is not thrown to the top on each update.
 */
export const clientScript = [
  "(() => {",
  'const live = document.getElementById("live");',
  "if (!document.body.dataset.events || !live || !window.EventSource) return;",
  "const source = new EventSource(document.body.dataset.events);",
  'source.addEventListener("update", (event) => {',
  "let data;",
  "try { data = JSON.parse(event.data); } catch { return; }",
  'if (!data || typeof data.html !== "string") return;',
  "const focused = document.activeElement;",
  'const href = focused && live.contains(focused) ? focused.getAttribute("href") : null;',
  "live.innerHTML = data.html;",
  "if (href) for (const a of live.querySelectorAll(\"a[href]\")) if (a.getAttribute(\"href\") === href) { a.focus(); break; }",
  "});",
  "})();",
].join("\n");

/** Colours checked for WCAG AA (4.5:1 for text, 3:1 for focus rings) against their backgrounds. */
export const pageStyle = [
  ":root{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;color:#1f2328;background:#fff;line-height:1.45}",
  "body{margin:0}",
  "a{color:#0550ae}",
  ":focus-visible{outline:3px solid #0969da;outline-offset:2px}",
  ".skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem}",
  ".skip:focus{left:.5rem}",
  "header{background:#24292f;color:#fff}",
  "header .brand{margin:0;padding:.6rem 1rem;font-weight:600}",
  "nav{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.6rem 1rem}",
  "nav a{color:#fff;font-weight:600}",
  "nav :focus-visible{outline-color:#79c0ff}",
  "nav a[aria-current]{text-decoration-thickness:3px}",
  "nav .who{margin-left:auto}",
  "nav form{margin:0}",
  "main{padding:1rem;max-width:90rem}",
  "h1{font-size:1.5rem;margin:.2rem 0 .8rem}",
  "h2{font-size:1.2rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #d0d7de}",
  "h3{font-size:1rem;margin:1rem 0 .3rem}",
  "table{border-collapse:collapse;margin:.4rem 0 1rem;width:100%}",
  "caption{text-align:left;font-weight:600;padding:.3rem 0}",
  "th,td{border-bottom:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}",
  "thead th{background:#f6f8fa}",
  "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}",
  "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}",
  "dl.facts dt{font-weight:600;margin:0}",
  "dl.facts dd{margin:0}",
  "dt{font-weight:600;margin-top:.5rem}",
  "p,dd,li{max-width:75rem}",
  "code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}",
  "pre{background:#f6f8fa;padding:.5rem;max-height:20rem;overflow:auto;white-space:pre-wrap;word-break:break-word}",
  ".muted{color:#57606a}",
  ".state{display:inline-block;padding:0 .4rem;border-radius:.6rem;font-weight:600;white-space:nowrap}",
  ".state-needs_you{color:#82071e;background:#ffebe9}",
  ".state-working{color:#0550ae;background:#ddf4ff}",
  ".state-waiting_ci{color:#7d4e00;background:#fff8c5}",
  ".state-ready{color:#116329;background:#dafbe1}",
  ".state-done{color:#24292f;background:#eaeef2}",
  ".state-cancelled{color:#57606a;background:#f6f8fa}",
  ".pass{color:#116329;font-weight:600}",
  ".fail{color:#82071e;font-weight:600}",
  ".pending{color:#7d4e00;font-weight:600}",
  ".flash{padding:.5rem .8rem;border-radius:.3rem;border:1px solid}",
  ".flash-ok{color:#116329;background:#dafbe1}",
  ".flash-error{color:#82071e;background:#ffebe9}",
  "form.filter,.actions{display:flex;flex-wrap:wrap;gap:.8rem;align-items:end}",
  "label{display:block;font-weight:600;font-size:.9rem}",
  "input,select,textarea,button{font:inherit}",
  "button,.button{background:#0550ae;color:#fff;border:0;border-radius:.3rem;padding:.35rem .9rem;cursor:pointer;text-decoration:none;display:inline-block}",
  "button.danger{background:#a40e26}",
  "nav button{background:transparent;border:1px solid #fff}",
  ".actions form{border:1px solid #d0d7de;border-radius:.3rem;padding:.6rem}",
  ".reviews{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}",
  ".reviews article,.subtask{border:1px solid #d0d7de;border-radius:.3rem;padding:.2rem .8rem}",
  ".bar{display:inline-block;height:.7rem;background:#0969da;vertical-align:middle;margin-left:.4rem}",
  // Bar widths in steps of 5 %: class names, so no style attribute is needed.
  ...Array.from({ length: 21 }, (_, i) => `.w${i * 5}{width:${i * 0.4}rem}`),
  ".vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
].join("\n");

export interface LayoutInput {
  title: string;
  viewer?: Viewer;
  csrf?: string;
  /** Which nav entry is this page. */
  current?: "runs" | "floor";
  /** The page's server-sent events URL; with it the page has a live region and the client script. */
  events?: string;
  flash?: Flash;
  /** What stays put: the heading, forms a person may be typing in. */
  top: Html;
  /** What the live stream replaces. */
  live?: Html;
}

export function layout(input: LayoutInput): string {
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${input.title} · Shopfloor Mission Control</title>
<style>${raw(pageStyle)}</style>
</head>
<body${input.events !== undefined ? html` data-events="${input.events}"` : ""}>
<a class="skip" href="#main">Skip to content</a>
<header>${input.viewer ? nav(input.viewer, input.csrf ?? "", input.current) : html`<p class="brand">Shopfloor Mission Control</p>`}</header>
<main id="main" tabindex="-1">
${flashMessage(input.flash)}${input.top}
${input.live !== undefined ? html`<div id="live" aria-live="polite">${input.live}</div><!-- /live -->` : ""}
</main>
${input.events !== undefined ? html`<script>${raw(clientScript)}</script>` : ""}
</body>
</html>
`;
  return page.text;
}

function nav(viewer: Viewer, csrf: string, current: LayoutInput["current"]): Html {
  const here = (which: LayoutInput["current"]) => (which === current ? raw(' aria-current="page"') : "");
  return html`<nav aria-label="Mission Control">
<a href="/shopfloor"${here("runs")}>Runs</a>
<a href="/shopfloor/floor"${here("floor")}>Floor</a>
<span class="who">Signed in as <strong>@${viewer.login}</strong></span>
<form method="post" action="/shopfloor/logout"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Sign out</button></form>
</nav>`;
}

function flashMessage(flash: Flash | undefined): Html | string {
  if (!flash) return "";
  return flash.kind === "ok"
    ? html`<p class="flash flash-ok" role="status">${flash.text}</p>\n`
    : html`<p class="flash flash-error" role="alert">${flash.text}</p>\n`;
}

/** An error or notice page: 403 (not readable), 404, 500. */
export function renderMessagePage(title: string, text: string, status?: number, opts: { viewer?: Viewer; csrf?: string } = {}): string {
  return layout({
    title,
    ...opts,
    top: html`<h1>${title}</h1>
<p>${text}</p>
${status !== undefined ? html`<p class="muted">HTTP status ${status}</p>` : ""}
<p><a href="/shopfloor">Back to the runs</a></p>`,
  });
}

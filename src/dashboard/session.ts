/**
 * Mission Control's cookies, sealed rather than merely signed: a session carries the person's own
 * GitHub token, and a cookie may be logged by a proxy on its way. Crypto over node:crypto and no
 * state on the server, so every replica that shares the secret reads every session. Also the few
 * plain responses the sign-in pages need.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface SessionKeys {
  /** AES-256-GCM key for cookie contents. */
  seal: Buffer;
  /** HMAC key for CSRF tokens. */
  csrf: Buffer;
}

/** One key per purpose, so a leak or misuse of one says nothing about the other. */
export function sessionKeys(sessionSecret: string): SessionKeys {
  const derive = (purpose: string) => Buffer.from(hkdfSync("sha256", sessionSecret, "shopfloor-mission-control", purpose, 32));
  return { seal: derive("cookie-seal"), csrf: derive("csrf-token") };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypt and authenticate `payload`. The purpose is bound as associated data, so a sign-in state
 * cookie can never be opened as a session, nor the other way round.
 */
export function seal(key: Buffer, purpose: string, payload: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(purpose, "utf8"));
  const body = Buffer.concat([cipher.update(JSON.stringify(payload), "utf8"), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
}

/** The payload, or undefined when the value was not sealed by us for this purpose (tampered, truncated, other key). */
export function unseal(key: Buffer, purpose: string, sealed: string | undefined): unknown {
  if (!sealed) return undefined;
  const raw = Buffer.from(sealed, "base64url");
  if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(purpose, "utf8"));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function hmac(key: Buffer, value: string): string {
  return createHmac("sha256", key).update(value).digest("base64url");
}

/** Constant-time equality; only the length may show, and callers compare values of a fixed length. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  /** 0 clears the cookie. */
  maxAgeSeconds: number;
  secure: boolean;
}

/**
 * Always HttpOnly (no script reads a session) and SameSite=Lax: the cookie rides along when a
 * person follows a link to Mission Control and on GitHub's redirect back, never on a cross-site POST.
 */
export function setCookie(name: string, value: string, opts: CookieOptions): string {
  return `${name}=${value}; Path=${opts.path}; Max-Age=${Math.max(0, Math.floor(opts.maxAgeSeconds))}; HttpOnly; SameSite=Lax${opts.secure ? "; Secure" : ""}`;
}

/** Whether the person reached us over HTTPS, directly or through a proxy that terminated TLS. */
export function cameOverTls(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const forwarded = req.headers["x-forwarded-proto"];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim().toLowerCase();
  return first === "https";
}

/** The origin the person's browser used for this request, from the Host header it sent. */
export function requestOrigin(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  return host ? `${cameOverTls(req) ? "https" : "http"}://${host}` : undefined;
}

/** Redirects and pages here are never cached, and never pass the callback URL (with its code) on as a Referer. */
export function redirect(res: ServerResponse, status: 302 | 303, location: string, cookies: string[]): void {
  res.writeHead(status, { location, "set-cookie": cookies, "cache-control": "no-store", "referrer-policy": "no-referrer" }).end();
}

/** A small plain page: what happened, in words, and the way back to signing in. */
export function page(res: ServerResponse, status: number, message: string, cookies: string[] = []): void {
  res
    .writeHead(status, { "content-type": "text/html; charset=utf-8", "set-cookie": cookies, "cache-control": "no-store", "referrer-policy": "no-referrer" })
    .end(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Mission Control sign-in</title><main><h1>Sign-in</h1><p>${escapeHtml(message)}</p><p><a href="/shopfloor/login">Sign in with GitHub</a></p></main></html>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The router normally passes the parsed form; read it here when it did not (small bodies only). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16_384) break;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

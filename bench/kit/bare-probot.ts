/**
 * The anchor of bench/webhook-ack.ts: a bare Probot app with one no-op handler for the events
 * sent, nothing else, in a process of its own (`node --import tsx --import
 * bench/kit/server-meter.ts bench/kit/bare-probot.ts`). It never loads Shopfloor: importing the
 * app subscribes its webhook meter to Node's HTTP diagnostics channels for the whole process.
 *
 * Prints one line `ready {"url","secret"}` once it listens.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { run } from "probot";
import { freePort } from "../../test/kit/port.js";

const port = await freePort();
const secret = randomBytes(16).toString("hex");
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
const env: Record<string, string> = { APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: secret, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "fatal" };
await run((app) => app.on(["issues.labeled", "issue_comment.created"], async () => undefined), { env });
process.stdout.write(`ready ${JSON.stringify({ url: `http://127.0.0.1:${port}/api/github/webhooks`, secret })}\n`);

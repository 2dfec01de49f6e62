/**
 * The names the test kit's GitHub, app and payloads share. Apart from app.ts, which loads nock and
 * the app: a process that only sends deliveries (the webhook bench's client) imports these alone.
 */
export const owner = "Codertocat";
export const repoName = "Hello-World";
export const defaultBranch = "master";
export const installationId = 42;
export const webhookSecret = "kit-webhook-secret";

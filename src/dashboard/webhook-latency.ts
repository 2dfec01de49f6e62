import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";

interface ServerMessage {
  request: IncomingMessage & { [startedAt]?: bigint };
  response: ServerResponse;
}

/** When a timed request arrived, kept on the request itself: a WeakMap entry per request costs the collector more. */
const startedAt = Symbol("shopfloor.webhookStartedAt");

/**
 * Times every delivery to `path`: from the moment Node has the request to the moment the answer
 * is handed to the network, which is how long GitHub waited (it gives up at 10 s). Probot's own
 * middleware answers webhooks before any handler of ours runs, so the time is read from Node's
 * HTTP diagnostics channels instead of from a handler. Only POSTs count (GitHub delivers no other
 * method); the query string is ignored. Returns the unsubscribe.
 */
export function watchWebhookLatency(path: string, observe: (seconds: number, status: number) => void): () => void {
  const onStart = (message: unknown) => {
    const { request } = message as ServerMessage;
    if (request.method === "POST" && request.url?.split("?")[0] === path) request[startedAt] = process.hrtime.bigint();
  };
  const onFinish = (message: unknown) => {
    const { request, response } = message as ServerMessage;
    const at = request[startedAt];
    if (at === undefined) return;
    request[startedAt] = undefined;
    try {
      observe(Number(process.hrtime.bigint() - at) / 1e9, response.statusCode);
    } catch {
      // A subscriber's throw would surface as an uncaught exception: metrics must never end the server.
    }
  };
  subscribe("http.server.request.start", onStart);
  subscribe("http.server.response.finish", onFinish);
  return () => {
    unsubscribe("http.server.request.start", onStart);
    unsubscribe("http.server.response.finish", onFinish);
  };
}

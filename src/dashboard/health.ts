import type { IncomingMessage, ServerResponse } from "node:http";
import type { RunStore } from "../store/run-store.js";

/** `GET /healthz`: the process answers and its state directory is readable. */
export function healthHandler(store: RunStore) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/healthz") return false;
    try {
      // Active runs only: the answer must not cost more as history grows.
      const active = await store.listActiveRuns();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, active: active.length }));
    } catch (error) {
      res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, error: String(error) }));
    }
    return true;
  };
}

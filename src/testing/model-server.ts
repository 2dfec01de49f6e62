/**
 * A scripted model server on loopback for tests, Shopfloor's own and teams' (`shopfloor/testing`):
 * the real `openai` and `@anthropic-ai/sdk` clients (and CLI agents built on them) talk to it over
 * HTTP as they would to the vendors. It uses Node's `http` only, so it runs wherever Shopfloor does.
 *
 * Each request takes the next turn from the queue of the model named in its body. A turn given
 * as a function is called with the request, so a test can assert on what the agent sent.
 * Usage counts are provider-neutral: `input` is all input tokens, `cached` how many of them
 * were cache reads (Anthropic's wire `input_tokens` is then `input - cached`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { anthropicError, anthropicMessage, anthropicStream } from "./model-server/anthropic.js";
import { chatCompletion, chatCompletionStream, openAiError } from "./model-server/openai-chat.js";
import { responseObject, responseStream } from "./model-server/openai-responses.js";
import type { ReplyTurn, Sse } from "./model-server/reply.js";

export type { ReplyTurn, ScriptedToolCall, ScriptedUsage } from "./model-server/reply.js";

/** An HTTP error; without `body`, the vendor's own error shape for the status (429, 500, 529 …). */
export interface ErrorTurn {
  error: { status: number; headers?: Record<string, string>; body?: unknown };
}
/** Never answers; the client's timeout or abort signal must end the request. */
export interface HangTurn {
  hang: true;
}
export type Turn = ReplyTurn | ErrorTurn | HangTurn;

export interface RecordedRequest {
  method: string;
  /** Path and query as received, e.g. "/v1/messages?beta=true". */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body ({} when there was none); `any` because tests read arbitrary wire fields. */
  body: Record<string, any>;
}

/** Turns per model name (the route without its provider: "claude-opus-5-5"), taken in order. */
export type ModelScript = Record<string, Array<Turn | ((req: RecordedRequest) => Turn)>>;

/** The variables that send Shopfloor's Anthropic and OpenAI routes to the server, with placeholder keys. */
export type ModelServerEnv = {
  ANTHROPIC_BASE_URL: string;
  ANTHROPIC_API_KEY: string;
  OPENAI_BASE_URL: string;
  OPENAI_API_KEY: string;
};

export interface ModelServer {
  /** http://127.0.0.1:PORT — add "/v1" for OpenAI clients; Anthropic clients take it as is. */
  url: string;
  /**
   * For `createModel`, `runPlanner` or a Shopfloor process under test. A named endpoint
   * (`local/qwen3`) needs `SHOPFLOOR_ENDPOINT_LOCAL` set to `${url}/v1` as well.
   */
  env: ModelServerEnv;
  /** Every request received, in order, including unscripted ones. */
  requests: RecordedRequest[];
  /** Turns not yet taken, per model. */
  remaining(): Record<string, number>;
  close(): Promise<void>;
}

type Api = "chat" | "responses" | "messages";

const ROUTES: Record<string, Api> = {
  "/v1/chat/completions": "chat",
  "/chat/completions": "chat",
  "/v1/responses": "responses",
  "/responses": "responses",
  "/v1/messages": "messages",
};

export async function startModelServer(script: ModelScript): Promise<ModelServer> {
  const queues = new Map(Object.entries(script).map(([model, turns]) => [model, [...turns]]));
  const requests: RecordedRequest[] = [];
  let seq = 0;

  const server = createServer((req, res) => {
    void readBody(req).then(
      (raw) => {
        let body: Record<string, unknown> = {};
        try {
          body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
        } catch {
          return sendJson(res, 400, { error: { message: "kit model server: body is not JSON", type: "invalid_request_error" } });
        }
        const path = req.url ?? "/";
        const recorded: RecordedRequest = { method: req.method ?? "GET", path, headers: { ...req.headers }, body };
        requests.push(recorded);
        const pathname = new URL(path, "http://kit").pathname;
        if (req.method === "GET" && pathname.endsWith("/models")) {
          return sendJson(res, 200, { object: "list", data: [...queues.keys()].map((id) => ({ id, object: "model", created: 0, owned_by: "kit" })) });
        }
        if (req.method === "POST" && pathname === "/v1/messages/count_tokens") {
          return sendJson(res, 200, { input_tokens: 100 });
        }
        const api = req.method === "POST" ? ROUTES[pathname] : undefined;
        if (!api) return sendJson(res, 404, { error: { message: `kit model server: no route ${req.method} ${pathname}`, type: "not_found_error" } });
        try {
          answer(api, recorded, res, ++seq);
        } catch (err) {
          // A throwing turn function (a failed assertion) must fail the test visibly, not hang it.
          sendJson(res, 500, errorBody(api, 500, `kit model server: turn failed: ${String(err)}`));
        }
      },
      (err: unknown) => sendJson(res, 400, { error: { message: String(err), type: "invalid_request_error" } }),
    );
  });

  function answer(api: Api, req: RecordedRequest, res: ServerResponse, n: number): void {
    const model = typeof req.body.model === "string" ? req.body.model : "";
    const next = queues.get(model)?.shift();
    if (next === undefined) {
      const message = `script exhausted for model ${model || "(none)"} (${req.method} ${req.path})`;
      return sendError(api, res, { status: 500, body: errorBody(api, 500, message) });
    }
    const turn = typeof next === "function" ? next(req) : next;
    if ("hang" in turn) return;
    if ("error" in turn) return sendError(api, res, turn.error);
    if (turn.delayMs) {
      setTimeout(() => reply(api, req, res, turn, model, n), turn.delayMs);
      return;
    }
    reply(api, req, res, turn, model, n);
  }

  function reply(api: Api, req: RecordedRequest, res: ServerResponse, turn: ReplyTurn, model: string, n: number): void {
    const stream = req.body.stream === true;
    const id = `${n}`;
    if (api === "chat") {
      return stream ? sendSse(res, chatCompletionStream(turn, model, id)) : sendJson(res, 200, chatCompletion(turn, model, id));
    }
    if (api === "responses") {
      return stream ? sendSse(res, responseStream(turn, model, id)) : sendJson(res, 200, responseObject(turn, model, id, "completed"));
    }
    return stream ? sendSse(res, anthropicStream(turn, model, id)) : sendJson(res, 200, anthropicMessage(turn, model, id, true));
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    env: { ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: "kit-key", OPENAI_BASE_URL: `${url}/v1`, OPENAI_API_KEY: "kit-key" },
    requests,
    remaining: () => Object.fromEntries([...queues].map(([model, turns]) => [model, turns.length])),
    // Once: an `afterEach` may close a server another hook already closed.
    close: () =>
      (closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Hanging turns and keep-alive sockets would hold close() open forever.
        server.closeAllConnections();
      })),
  };
}

function errorBody(api: Api, status: number, message: string): unknown {
  return api === "messages" ? anthropicError(status, message) : openAiError(status, message);
}

function sendError(api: Api, res: ServerResponse, error: ErrorTurn["error"]): void {
  const body = error.body ?? errorBody(api, error.status, `kit model server: scripted HTTP ${error.status}`);
  sendJson(res, error.status, body, error.headers);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "x-request-id": "req_kit",
    "request-id": "req_kit",
    ...headers,
  });
  res.end(text);
}

function sendSse(res: ServerResponse, events: Sse[]): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-request-id": "req_kit", "request-id": "req_kit" });
  for (const e of events) {
    const data = typeof e.data === "string" ? e.data : JSON.stringify(e.data);
    res.write(`${e.event ? `event: ${e.event}\n` : ""}data: ${data}\n\n`);
  }
  res.end();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

import type { RecordedRequest } from "./model-server.js";

/**
 * What an agent asked, read from a recorded request whatever the vendor's wire format: a team's
 * test asserts on its role card and its task, not on where each API keeps them.
 */

type Api = "chat" | "responses" | "messages";
type Message = { role?: unknown; content?: unknown; name?: unknown; function?: { name?: unknown } };

function apiOf(request: RecordedRequest): Api | undefined {
  const path = new URL(request.path, "http://kit").pathname;
  if (path.endsWith("/chat/completions")) return "chat";
  if (path.endsWith("/responses")) return "responses";
  if (path === "/v1/messages") return "messages";
  return undefined;
}

/** The request's API and body, or a clear failure when a test reads one the agent never sent. */
function read(request: RecordedRequest | undefined): { api: Api | undefined; body: RecordedRequest["body"] } {
  if (!request) throw new Error("shopfloor/testing: no such request was recorded (is the index past server.requests.length?)");
  return { api: apiOf(request), body: request.body };
}

/** Plain text of a message's content: a string, or the text of its parts. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: { text?: unknown }) => (typeof part?.text === "string" ? part.text : ""))
    .filter(Boolean)
    .join("\n\n");
}

/** Wire items (messages, input items, tools) as far as these readers look at them. */
const list = (value: unknown): Message[] => (Array.isArray(value) ? (value as Message[]) : []);
const isSystem = (m: Message): boolean => m.role === "system" || m.role === "developer";

/** The system prompt: for Shopfloor's agents, the role card's prompt plus the repository's AGENTS.md. */
export function systemPromptOf(request: RecordedRequest | undefined): string {
  const { api, body } = read(request);
  switch (api) {
    case "chat":
      return list(body.messages).filter(isSystem).map((m) => textOf(m.content)).join("\n\n");
    case "responses":
      return typeof body.instructions === "string" ? body.instructions : list(body.input).filter(isSystem).map((m) => textOf(m.content)).join("\n\n");
    case "messages":
      return textOf(body.system);
    default:
      return "";
  }
}

/** The first user message: for Shopfloor's agents, the job's task (the issue, quoted, for the planner). */
export function taskOf(request: RecordedRequest | undefined): string {
  const { api, body } = read(request);
  if (api === "responses" && typeof body.input === "string") return body.input;
  const messages = api === "responses" ? body.input : api ? body.messages : undefined;
  return textOf(list(messages).find((m) => m.role === "user")?.content);
}

/** The names of the tools offered, in order: the card's tools as the role allows them, then `finish`. */
export function toolNamesOf(request: RecordedRequest | undefined): string[] {
  const { api, body } = read(request);
  if (!api) return [];
  return list(body.tools).map((t) => String(api === "chat" ? t.function?.name : t.name));
}

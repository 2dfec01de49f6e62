import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { EngineLog } from "../orchestrator/engine.js";

/**
 * The engine's and monitor's log for a local run: JSON lines in a file, so the terminal shows
 * the run and not the machinery, and a person who wants the detail can read it afterwards.
 * Every line passes `redact` (keys and tokens in error messages).
 */
export class FileLog implements EngineLog {
  private readonly out: WriteStream;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly redact: (text: string) => string,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.out = createWriteStream(path, { flags: "a" });
  }

  info(obj: object, msg: string): void {
    this.write("info", obj, msg);
  }

  warn(obj: object, msg: string): void {
    this.write("warn", obj, msg);
  }

  error(obj: object, msg: string): void {
    this.write("error", obj, msg);
  }

  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => this.out.end(resolve));
  }

  private write(level: string, obj: object, msg: string): void {
    // A job that ignored its stop may still report after the end; the file is done by then.
    if (this.closed) return;
    const fields = Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, v instanceof Error ? { message: v.message, stack: v.stack } : v]));
    this.out.write(`${this.redact(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }))}\n`);
  }
}

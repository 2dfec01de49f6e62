import type { IncomingMessage, ServerResponse } from "node:http";

/** Renders a page's live region as it is now; called once per tick for each open page. */
export type RenderLive = () => Promise<string>;

interface Watcher {
  res: ServerResponse;
  render: RenderLive;
  /** What this page was last sent: nothing is sent while it stays the same. */
  last?: string;
}

export interface LiveFeedOptions {
  /** How often open pages are re-rendered on the server (`SHOPFLOOR_LIVE_MS`). */
  intervalMs: number;
  /** A comment line now and then keeps proxies from closing a quiet stream. */
  heartbeatMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Server-sent events for Mission Control's pages. The browser holds one `EventSource` and never
 * polls; the server re-renders each open page's live region on a tick and sends it only when it
 * changed. The tick reads stamps and caches, so it works the same whichever replica made the
 * change. The timer runs only while a page is open.
 */
export class LiveFeed {
  private readonly watchers = new Set<Watcher>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private lastBeat = Date.now();

  constructor(private readonly opts: LiveFeedOptions) {}

  /** Start streaming `render`'s output to this request; the first update is sent at once. */
  open(req: IncomingMessage, res: ServerResponse, render: RenderLive): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // nginx would otherwise hold the stream in its buffer.
      "x-accel-buffering": "no",
      connection: "keep-alive",
    });
    // A reconnecting browser waits this long; a restart of the app should not leave it dark for long.
    res.write("retry: 2000\n\n");
    const watcher: Watcher = { res, render };
    this.watchers.add(watcher);
    req.on("close", () => this.drop(watcher));
    void this.send(watcher);
    this.timer ??= setInterval(() => void this.tick(), this.opts.intervalMs);
  }

  /** Ends every stream (shutdown); browsers reconnect to whichever replica answers. */
  close(): void {
    for (const watcher of this.watchers) watcher.res.end();
    this.watchers.clear();
    this.stopTimer();
  }

  get size(): number {
    return this.watchers.size;
  }

  private drop(watcher: Watcher): void {
    this.watchers.delete(watcher);
    if (this.watchers.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    // A slow render must not pile ticks on each other.
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const watcher of [...this.watchers]) await this.send(watcher);
      if (Date.now() - this.lastBeat >= (this.opts.heartbeatMs ?? 15_000)) {
        this.lastBeat = Date.now();
        for (const watcher of this.watchers) watcher.res.write(": still here\n\n");
      }
    } finally {
      this.ticking = false;
    }
  }

  private async send(watcher: Watcher): Promise<void> {
    let html: string;
    try {
      html = await watcher.render();
    } catch (error) {
      // The page keeps what it shows; the next tick tries again.
      this.opts.onError?.(error);
      return;
    }
    if (html === watcher.last || !this.watchers.has(watcher)) return;
    watcher.last = html;
    watcher.res.write(`event: update\ndata: ${JSON.stringify({ html })}\n\n`);
  }
}

/**
 * The Server-Sent Events response: exactly the reference's framing (one `data: <json>\n\n` frame
 * per event, no event names, no terminator) plus what proxies need — no caching, no buffering —
 * and a comment heartbeat while idle, which clients ignore. Knows when the client went away and
 * turns that into an AbortSignal.
 */
import type { Response } from 'express';
import type { ThreadStreamEvent } from 'src/chatkit/chatkit.schemas';
import { sseFrame } from 'src/chatkit/chatkit.wire';

export class SseStream {
  private readonly abort = new AbortController();
  private heartbeat?: NodeJS.Timeout;
  private ended = false;

  constructor(
    private readonly res: Response,
    private readonly heartbeatMs: number,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get clientGone(): boolean {
    return this.abort.signal.aborted;
  }

  open(): void {
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.setHeader('Connection', 'keep-alive');
    this.res.on('close', () => {
      if (!this.ended) this.abort.abort(new Error('client disconnected'));
      this.stopHeartbeat();
    });
    this.res.flushHeaders();
    this.armHeartbeat();
  }

  send(event: ThreadStreamEvent): void {
    if (this.ended || this.clientGone) return;
    this.res.write(sseFrame(event));
    this.armHeartbeat();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopHeartbeat();
    if (!this.clientGone) this.res.end();
  }

  private armHeartbeat(): void {
    if (!this.heartbeatMs) return;
    // Every event pushes the next keep-alive back; refresh() reuses the timer (even a fired one).
    if (this.heartbeat) {
      this.heartbeat.refresh();
      return;
    }
    this.heartbeat = setTimeout(() => {
      if (this.ended || this.clientGone) return;
      this.res.write(': keep-alive\n\n');
      this.armHeartbeat();
    }, this.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }
}

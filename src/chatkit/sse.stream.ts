/**
 * The Server-Sent Events response: exactly the reference's framing (one `data: <json>\n\n` frame
 * per event, no event names, no terminator) plus what proxies need — no caching, no buffering —
 * and a comment heartbeat while idle, which clients ignore.
 *
 * It turns "the client is gone" and "the client reads too slowly" into one AbortSignal, and it
 * must never buffer more than a bounded amount for a client: `send` waits while the buffer is
 * full, so the producer (the model) is not pulled further, and a reader that leaves it full for
 * too long is cut. While `send` waits it also closes the turn's read gate, so the model's response
 * is not read further either (see read-gate.ts).
 *
 * The controllers hand it the events a service returned (`write`): it owns the response from the
 * first header to `end()`. It must never decide what is sent, only how and when.
 */
import type { Response } from 'express';
import type { ThreadStreamEvent } from 'src/protocol/chatkit.schemas';
import { sseFrame } from 'src/protocol/chatkit.wire';
import { ReadGate, withReadGate } from 'src/chatkit/read-gate';

export interface SseOptions {
  /** Silence after which a keep-alive comment is written; 0: never. */
  heartbeatMs: number;
  /** Bytes a stream may have waiting for the client before `send` waits for it to read. */
  bufferBytes: number;
  /** How long the buffer may stay full before the client is cut as too slow. */
  slowReaderTimeoutMs: number;
}

export class SlowReaderError extends Error {
  constructor(ms: number) {
    super(`the client read nothing for ${ms} ms with its buffer full`);
    this.name = 'SlowReaderError';
  }
}

/**
 * Aborts when the client behind `res` goes away, from whenever it is called on. Listens on the
 * response, not the request: since Node 16 a request's 'close' fires once its body has been read,
 * while the response's 'close' fires when the connection ends — after a complete response too,
 * which `writableFinished` tells apart. A client that left before this was called (while the
 * request was authenticated, say) is seen from `destroyed`.
 */
export function clientGoneSignal(res: Response): AbortSignal {
  const controller = new AbortController();
  const gone = (): void => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  };
  if (res.destroyed) gone();
  else res.once('close', gone);
  return controller.signal;
}

export class SseStream {
  private readonly abort = new AbortController();
  /** Closed while `send` waits for the client; the pipeline runs the responder inside it. */
  readonly readGate = new ReadGate();
  private heartbeat?: NodeJS.Timeout;
  private ended = false;
  private slow = false;
  /**
   * Frames of the current burst not yet handed to the response. The events of one model chunk
   * arrive in one turn of the event loop; written as one chunk, they leave in one system call
   * instead of one per frame. They count against the buffer bound like written bytes do: the
   * burst is handed over at the latest when the bound is reached, and at the end of the turn.
   */
  private pending: string[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private readonly flushTurn = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly onClientGone = (): void => this.abort.abort(this.clientGone.reason);

  constructor(
    private readonly res: Response,
    private readonly options: SseOptions,
    private readonly clientGone: AbortSignal,
  ) {
    // A stream that is over must not hold the model's response back: whoever still reads it
    // will see the abort there.
    this.abort.signal.addEventListener('abort', () => this.readGate.open(), { once: true });
    if (clientGone.aborted) this.onClientGone();
    else clientGone.addEventListener('abort', this.onClientGone, { once: true });
  }

  /** Aborts when the client left or was cut as too slow: the turn must stop. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** The stream was cut because the client left its buffer full too long. */
  get cutAsSlowReader(): boolean {
    return this.slow;
  }

  /** Bytes written but not yet taken by the client (this process's share of them). */
  get bufferedBytes(): number {
    return this.res.writableLength + this.pendingBytes;
  }

  open(): void {
    // Nobody is left to read the headers.
    if (this.signal.aborted) return;
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.setHeader('Connection', 'keep-alive');
    // The headers leave with the first burst, at the end of this turn of the event loop at the
    // latest: one system call instead of two, made after whatever this turn still starts (a
    // turn's model request goes out before the client is written to).
    this.scheduleFlush();
    this.armHeartbeat();
  }

  /** Writes one event; resolves once the buffer has room again (or the stream is over). */
  async send(event: ThreadStreamEvent): Promise<void> {
    if (this.ended || this.signal.aborted) return;
    const frame = sseFrame(event);
    this.pending.push(frame);
    this.pendingBytes += Buffer.byteLength(frame);
    this.armHeartbeat();
    if (this.pendingBytes + this.res.writableLength < this.options.bufferBytes) {
      this.scheduleFlush();
      return;
    }
    this.flush();
    // The response's `write` said false once the socket held more than its own high-water
    // mark; the stream tolerates up to `bufferBytes` beyond what the kernel took before it waits.
    if (this.res.writableNeedDrain && this.res.writableLength >= this.options.bufferBytes) {
      await this.drained();
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushTurn);
  }

  /** Hands the burst to the response as one chunk (the headers alone if there is none yet). */
  private flush(): void {
    if (this.pending.length === 0) {
      if (!this.res.headersSent && !this.signal.aborted && !this.res.destroyed) this.res.flushHeaders();
      return;
    }
    const chunk = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (this.signal.aborted || this.res.destroyed) return;
    this.res.write(chunk);
  }

  /**
   * Opens the stream, writes every event, and ends the response. The next event is pulled only
   * once the last one was taken by the buffer, and each pull runs inside the read gate: whatever
   * the producer starts on it (the model's response) stops reading while the client's buffer is
   * full. After the client left, events are still pulled, but dropped: the producer sees the
   * abort itself and winds down (storing what must be kept) before the response is ended.
   */
  write(events: AsyncIterable<ThreadStreamEvent>): Promise<void> {
    // Entered once for the whole stream: every pull below, and whatever it starts, runs inside.
    return withReadGate(this.readGate, () => this.writeAll(events));
  }

  private async writeAll(events: AsyncIterable<ThreadStreamEvent>): Promise<void> {
    const iterator = events[Symbol.asyncIterator]();
    let done = false;
    try {
      this.open();
      for (;;) {
        const next = await iterator.next();
        if (next.done) {
          done = true;
          break;
        }
        await this.send(next.value);
      }
    } finally {
      // Only a failed write stops early; the producer still releases what it holds.
      if (!done) await iterator.return?.();
      this.end();
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopHeartbeat();
    this.clientGone.removeEventListener('abort', this.onClientGone);
    this.readGate.open();
    if (this.signal.aborted) {
      this.pending = [];
      this.pendingBytes = 0;
    } else {
      this.flush();
      this.res.end();
    }
  }

  /** Waits for 'drain'; the client leaving ends the wait, and so does the slow-reader cut. */
  private drained(): Promise<void> {
    this.readGate.close();
    return new Promise((resolve) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.readGate.open();
        this.res.off('drain', settle);
        this.signal.removeEventListener('abort', settle);
        resolve();
      };
      const timer = setTimeout(() => {
        this.slow = true;
        this.abort.abort(new SlowReaderError(this.options.slowReaderTimeoutMs));
        // Destroying the response frees what it holds for the client at once.
        this.res.destroy();
      }, this.options.slowReaderTimeoutMs);
      this.res.once('drain', settle);
      this.signal.addEventListener('abort', settle, { once: true });
    });
  }

  private armHeartbeat(): void {
    if (!this.options.heartbeatMs) return;
    // Every event pushes the next keep-alive back; refresh() reuses the timer (even a fired one).
    if (this.heartbeat) {
      this.heartbeat.refresh();
      return;
    }
    this.heartbeat = setTimeout(() => {
      if (this.ended || this.signal.aborted) return;
      // Bytes still waiting for the client keep the connection from being idle; a keep-alive
      // would only add to a buffer the client is not emptying.
      if (this.res.writableLength === 0 && this.pendingBytes === 0) this.res.write(': keep-alive\n\n');
      this.armHeartbeat();
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }
}

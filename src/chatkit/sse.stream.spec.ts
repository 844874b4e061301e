/**
 * The SSE writer against a real HTTP server and a raw client socket that a test pauses, so the
 * kernel and Node buffers fill as they do behind a client that stops reading.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Response } from 'express';
import type { ThreadStreamEvent } from 'src/protocol/chatkit.schemas';
import { currentReadGate } from 'src/chatkit/read-gate';
import { SlowReaderError, SseStream, clientGoneSignal, type SseOptions } from 'src/chatkit/sse.stream';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A big event: a text delta of `size` characters. */
const delta = (size: number): ThreadStreamEvent => ({
  type: 'thread.item.updated',
  item_id: 'message_1',
  update: {
    type: 'assistant_message.content_part.text_delta',
    content_index: 0,
    delta: 'x'.repeat(size),
  },
});

interface Exchange {
  res: Response;
  client: Socket;
  close(): Promise<void>;
}

/** One request from a raw client; the server side's response is handed to the test. */
async function exchange(opts: { paused?: boolean } = {}): Promise<Exchange> {
  let server!: Server;
  const arrived = new Promise<ServerResponse>((resolve) => {
    server = createServer((_req: IncomingMessage, res: ServerResponse) => resolve(res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.on('error', () => undefined);
  if (opts.paused) client.pause();
  client.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const raw = await arrived;
  // The writer only needs Express's status() on top of Node's response.
  const res = Object.assign(raw, {
    status(code: number) {
      raw.statusCode = code;
      return res;
    },
  }) as unknown as Response;
  return {
    res,
    client,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Sends big events until one send stays pending (the buffer is full); returns that send. */
async function fillUntilBlocked(sse: SseStream): Promise<{ pending: Promise<void>; sent: number }> {
  for (let sent = 1; sent <= 4000; sent++) {
    let settled = false;
    const pending = sse.send(delta(16 * 1024)).then(() => {
      settled = true;
    });
    await sleep(5);
    if (!settled) return { pending, sent };
  }
  throw new Error('every send was taken at once: nothing held the writer back');
}

const options = (over: Partial<SseOptions> = {}): SseOptions => ({
  heartbeatMs: 0,
  bufferBytes: 64 * 1024,
  slowReaderTimeoutMs: 60_000,
  ...over,
});

describe('SseStream', () => {
  it('waits while the client does not read, with a bounded buffer and no keep-alives piling up', async () => {
    const ex = await exchange({ paused: true });
    try {
      const sse = new SseStream(ex.res, options({ heartbeatMs: 20 }), clientGoneSignal(ex.res));
      sse.open();
      const { pending } = await fillUntilBlocked(sse);
      const held = sse.bufferedBytes;
      // At most the budget plus the frame that crossed it (and Node's small per-socket share).
      expect(held).toBeLessThan(64 * 1024 + 2 * 17 * 1024);
      await sleep(200);
      expect(sse.bufferedBytes).toBeLessThanOrEqual(held);
      expect(sse.signal.aborted).toBe(false);

      // The client reads again: the pending send completes and the stream goes on.
      ex.client.resume();
      await pending;
      await sse.send(delta(10));
      sse.end();
      expect(sse.cutAsSlowReader).toBe(false);
    } finally {
      await ex.close();
    }
  });

  it('writes the events of one turn of the event loop as one chunk, counted against the bound while held', async () => {
    const ex = await exchange();
    try {
      const sse = new SseStream(ex.res, options(), clientGoneSignal(ex.res));
      sse.open();
      const writes: number[] = [];
      const write = ex.res.write.bind(ex.res) as (chunk: string) => boolean;
      ex.res.write = ((chunk: string) => {
        writes.push(Buffer.byteLength(chunk));
        return write(chunk);
      }) as typeof ex.res.write;
      let received = '';
      ex.client.on('data', (data: Buffer) => (received += data.toString()));

      await Promise.all([1, 2, 3, 4, 5].map((n) => sse.send(delta(n))));
      // Held until the turn ends, and counted as buffered meanwhile.
      expect(writes).toEqual([]);
      expect(sse.bufferedBytes).toBeGreaterThan(5 * 'data: '.length);
      await new Promise((resolve) => setImmediate(resolve));
      expect(writes).toHaveLength(1);

      // A burst that reaches the bound is handed over at once, not at the end of the turn.
      writes.length = 0;
      const big = 30 * 1024;
      await sse.send(delta(big));
      await sse.send(delta(big));
      expect(writes).toEqual([]);
      await sse.send(delta(big));
      expect(writes).toHaveLength(1);
      expect(writes[0]).toBeGreaterThan(3 * big);
      sse.end();
      await once(ex.client, 'end');
      // Whole frames only, between the chunked encoding's size lines.
      const deltas = [...received.matchAll(/data: (.*)\n\n/g)].map(
        ([, json]) => (JSON.parse(json) as { update: { delta: string } }).update.delta,
      );
      expect(deltas.map((d) => d.length)).toEqual([1, 2, 3, 4, 5, big, big, big]);
    } finally {
      await ex.close();
    }
  });

  it('sends the headers with the first burst, in one socket write, or alone at the end of a quiet turn', async () => {
    for (const quiet of [false, true]) {
      const ex = await exchange();
      try {
        // What reaches the socket's own writers: one call is one system call (a corked
        // burst of the chunked encoding's pieces goes to _writev at once).
        const socketWrites: string[] = [];
        const socket = ex.res.socket as unknown as {
          _write(chunk: Buffer | string, encoding: string, cb: () => void): void;
          _writev(chunks: { chunk: Buffer | string }[], cb: () => void): void;
        };
        const write = socket._write.bind(socket);
        const writev = socket._writev.bind(socket);
        socket._write = (chunk, encoding, cb) => {
          socketWrites.push(chunk.toString());
          write(chunk, encoding, cb);
        };
        socket._writev = (chunks, cb) => {
          socketWrites.push(chunks.map(({ chunk }) => chunk.toString()).join(''));
          writev(chunks, cb);
        };
        let received = '';
        ex.client.on('data', (data: Buffer) => (received += data.toString()));
        const sse = new SseStream(ex.res, options(), clientGoneSignal(ex.res));
        sse.open();
        // Nothing leaves in the turn that opened the stream (a turn's model request goes first).
        expect(socketWrites).toEqual([]);
        if (!quiet) await sse.send(delta(3));
        await new Promise((resolve) => setImmediate(resolve));
        expect(socketWrites).toHaveLength(1);
        expect(socketWrites[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        expect(socketWrites[0]).toContain('Content-Type: text/event-stream');
        if (quiet) expect(socketWrites[0]).not.toContain('data: ');
        else expect(socketWrites[0]).toContain('"delta":"xxx"');
        // The headers reach a client that waits for them before any event.
        await new Promise<void>((resolve) => {
          const check = (): void => void (received.includes('\r\n\r\n') ? resolve() : setTimeout(check, 5));
          check();
        });
        sse.end();
        await once(ex.client, 'end');
        expect(received.match(/HTTP\/1\.1 200/g)).toHaveLength(1);
      } finally {
        await ex.close();
      }
    }
  });

  it('cuts a client that leaves the buffer full past the slow-reader timeout', async () => {
    const ex = await exchange({ paused: true });
    try {
      const sse = new SseStream(ex.res, options({ slowReaderTimeoutMs: 150 }), clientGoneSignal(ex.res));
      sse.open();
      const { pending } = await fillUntilBlocked(sse);
      await pending;
      expect(sse.signal.aborted).toBe(true);
      expect(sse.signal.reason).toBeInstanceOf(SlowReaderError);
      expect(sse.cutAsSlowReader).toBe(true);
      expect(ex.res.destroyed).toBe(true);
      // Nothing more is written to a cut stream.
      await sse.send(delta(10));
      sse.end();
    } finally {
      await ex.close();
    }
  });

  it('knows a client that left before the stream was created, and writes nothing to it', async () => {
    const ex = await exchange();
    try {
      const closed = once(ex.res, 'close');
      ex.client.destroy();
      await closed;
      const gone = clientGoneSignal(ex.res);
      expect(gone.aborted).toBe(true);
      const sse = new SseStream(ex.res, options(), gone);
      expect(sse.signal.aborted).toBe(true);
      sse.open();
      expect(ex.res.headersSent).toBe(false);
      sse.end();
    } finally {
      await ex.close();
    }
  });

  it('aborts when the client leaves mid-stream, but not when the response simply ends', async () => {
    const left = await exchange();
    const finished = await exchange();
    try {
      const leftSignal = clientGoneSignal(left.res);
      const sse = new SseStream(left.res, options(), leftSignal);
      sse.open();
      await sse.send(delta(10));
      left.client.destroy();
      await once(left.res, 'close');
      expect(sse.signal.aborted).toBe(true);

      const finishedSignal = clientGoneSignal(finished.res);
      const done = new SseStream(finished.res, options(), finishedSignal);
      done.open();
      await done.send(delta(10));
      done.end();
      await once(finished.res, 'close');
      expect(finishedSignal.aborted).toBe(false);
    } finally {
      await left.close();
      await finished.close();
    }
  });

  it("writes a result's events as frames, pulls each inside the read gate, and ends the response", async () => {
    const ex = await exchange();
    try {
      const sse = new SseStream(ex.res, options(), clientGoneSignal(ex.res));
      const gates: unknown[] = [];
      let cleanedUp = false;
      async function* events(): AsyncGenerator<ThreadStreamEvent> {
        try {
          gates.push(currentReadGate());
          yield delta(3);
          gates.push(currentReadGate());
          yield { type: 'stream_options', stream_options: { allow_cancel: true } };
        } finally {
          cleanedUp = true;
        }
      }
      let text = '';
      // The chunked body's last chunk says the response was ended.
      const ended = new Promise<void>((resolve) =>
        ex.client.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.endsWith('0\r\n\r\n')) resolve();
        }),
      );
      await sse.write(events());
      await ended;

      expect(gates).toHaveLength(2);
      for (const gate of gates) expect(gate).toBe(sse.readGate);
      expect(cleanedUp).toBe(true);
      expect(text).toContain('Content-Type: text/event-stream; charset=utf-8');
      expect(text).toContain('data: {"type":"thread.item.updated"');
      expect(text).toContain('data: {"type":"stream_options","stream_options":{"allow_cancel":true}}\n\n');
    } finally {
      await ex.close();
    }
  });
});

/**
 * A client that stops reading must hold the model back, not make the gateway take the whole
 * answer into memory: while the client's buffer is full the gateway stops reading the model's
 * response, so the model server's writes block on TCP, and once the client reads again the
 * answer arrives whole. The real AppModule over HTTP, the agent answering from the fake OpenAI
 * server, the client a raw socket that the test pauses and resumes.
 *
 * Its own app: the slow-reader cut must stay far away while the client pauses, and the embedded
 * test database takes a single connection.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { chatkit, rawChatkit, userInput } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn, type RecordedRequest } from 'test/support/fake-openai';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const MiB = 1024 * 1024;
const BUFFER_BYTES = 64 * 1024;

/** Reads the socket to its end and returns the HTTP response body, de-chunked. */
async function readResponse(socket: Socket): Promise<{ head: string; body: string }> {
  const parts: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => parts.push(chunk));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.resume();
  await ended;
  const raw = Buffer.concat(parts);
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split).toString('latin1');
  let rest = raw.subarray(split + 4);
  if (!/transfer-encoding: chunked/i.test(head)) return { head, body: rest.toString('utf8') };
  const body: Buffer[] = [];
  for (;;) {
    const line = rest.indexOf('\r\n');
    const size = parseInt(rest.subarray(0, line).toString('latin1'), 16);
    if (!size) break;
    body.push(rest.subarray(line + 2, line + 2 + size));
    rest = rest.subarray(line + 2 + size + 2);
  }
  return { head, body: Buffer.concat(body).toString('utf8') };
}

/**
 * Bytes the kernel holds on the TCP connection from `fromPort` to `toPort` on this host: sent
 * by `fromPort` and not yet acknowledged, plus received by `toPort` and not yet read by its
 * process (Linux's /proc/net/tcp, `tx_queue` and `rx_queue`). What the model wrote minus this is
 * what the gateway's process actually took from the model.
 */
function inKernel(fromPort: number, toPort: number): number {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  const table = ['/proc/net/tcp', '/proc/net/tcp6']
    .map((file) => readFileSync(file, 'utf8').split('\n').slice(1))
    .flat()
    .map((line) => line.trim().split(/\s+/));
  const queue = (local: number, remote: number, column: 0 | 1): number => {
    const row = table.find((f) => f[1]?.endsWith(`:${hex(local)}`) && f[2]?.endsWith(`:${hex(remote)}`));
    if (!row) throw new Error(`no TCP connection ${local} -> ${remote} in /proc/net/tcp`);
    return parseInt(row[4].split(':')[column], 16);
  };
  return queue(fromPort, toPort, 0) + queue(toPort, fromPort, 1);
}

/** Waits until the fake has written nothing more for `quietMs`, and says how much it wrote. */
async function writesSettled(request: RecordedRequest, quietMs: number, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs;
  let last = -1;
  let since = Date.now();
  while (Date.now() < deadline && request.completedAt === undefined) {
    if (request.bytesWritten !== last) {
      last = request.bytesWritten;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      break;
    }
    await sleep(100);
  }
  return request.bytesWritten;
}

const textOf = (item: any): string => item.content.map((c: any) => c.text).join('');

describe('a client that does not read holds the model back', () => {
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    app = await startApp({
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'test',
      OPENAI_API: 'responses',
      AGENT_MODEL: 'gpt-test',
      AGENT_REQUEST_TIMEOUT_MS: '120000',
      AGENT_MAX_RETRIES: '0',
      CHATKIT_HEARTBEAT_MS: '0',
      CHATKIT_STREAM_BUFFER_BYTES: String(BUFFER_BYTES),
      // Far longer than the test pauses: the client must not be cut here.
      CHATKIT_SLOW_READER_TIMEOUT_MS: '120000',
      RAG_SEED_DOCS: 'false',
      RAG_EMBEDDINGS_MODEL: undefined,
    });
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it("blocks the model's writes while the client does not read, then delivers every byte in order", async () => {
    const user = uniqueUser();
    fake.enqueue(textTurn('Hello.'), textTurn('A title'));
    const created = await chatkit(app, user, { type: 'threads.create', params: { input: userInput('Hi') } });
    expect(created.status).toBe(200);
    const threadId = created.events[0].thread.id as string;

    // 16 MiB in 512 numbered pieces, so a lost, doubled or reordered piece shows.
    const chunks = Array.from({ length: 512 }, (_, i) => {
      const label = `<${String(i).padStart(3, '0')}>`;
      return label + 'x'.repeat(32 * 1024 - label.length - 1) + ' ';
    });
    const answer = chunks.join('');
    fake.enqueue(textTurn(answer, { chunks }));

    const socket = rawChatkit(
      app,
      await tokenFor(user),
      {
        type: 'threads.add_user_message',
        params: { thread_id: threadId, input: userInput('Tell me everything') },
      },
      { paused: true },
    );
    try {
      // Requests 0 and 1 were the first answer and the title.
      const request = await fake.waitForRequest(2);
      const written = await writesSettled(request, 1500, 30_000);

      // The model's writes block: it wrote part of the answer and then nothing more...
      expect(request.completedAt).toBeUndefined();
      expect(written).toBeLessThan(answer.length);
      await sleep(1000);
      expect(request.bytesWritten).toBe(written);
      // ...and most of that part waits in the kernel, between the model and the gateway and between
      // the gateway and the client. What is left is what the gateway holds itself: a bounded
      // share (its buffer for the client, the model events in flight), far from the answer.
      const towardsGateway = inKernel(Number(new URL(fake.url).port), request.clientPort);
      const towardsClient = inKernel(Number(new URL(app.url).port), socket.localPort!);
      const held = written - towardsGateway - towardsClient;
      expect(held).toBeLessThan(2 * MiB);

      // Once the client reads, the rest flows and the answer arrives whole.
      const { head, body } = await readResponse(socket);
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      const events = body
        .split('\n\n')
        .filter((frame) => frame.startsWith('data: '))
        .map((frame) => JSON.parse(frame.slice('data: '.length)));
      expect(events.some((e) => e.type === 'error')).toBe(false);
      const streamed = events
        .filter(
          (e) =>
            e.type === 'thread.item.updated' && e.update.type === 'assistant_message.content_part.text_delta',
        )
        .map((e) => e.update.delta as string)
        .join('');
      expect(streamed.length).toBe(answer.length);
      expect(streamed === answer).toBe(true);
      const done = events.find((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message');
      expect(textOf(done.item) === answer).toBe(true);
      expect(request.completedAt).toBeDefined();

      const items = await chatkit(app, user, {
        type: 'items.list',
        params: { thread_id: threadId, order: 'asc', limit: 10 },
      });
      const stored = items.json.data.filter((i: any) => i.type === 'assistant_message');
      expect(stored).toHaveLength(2);
      expect(textOf(stored[1]) === answer).toBe(true);
    } finally {
      socket.destroy();
    }
  }, 120_000);
});

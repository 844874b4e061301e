/**
 * What a stream costs the server when its client misbehaves: a client that leaves before the
 * stream opens, a client that stops reading, and a user who opens more streams than allowed. The
 * real AppModule over HTTP with the agent answering from the fake OpenAI server; the clients are
 * raw sockets where fetch would hide what a test needs (when exactly it hangs up, not reading).
 *
 * One app for the file: the embedded test database takes a single connection.
 */
import { createServer, type Server } from 'node:http';
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from 'jose';
import { chatkit, rawChatkit, userInput } from 'test/support/chatkit-client';
import { FakeOpenAI, stallAfter, textTurn } from 'test/support/fake-openai';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const MAX_STREAMS = 2;
const BUFFER_BYTES = 64 * 1024;

/** A stream held open by the test: its status, and (for 200) a way to hang up. */
interface OpenStream {
  status: number;
  json?: any;
  close(): void;
}

/** Opens a streaming request and reads until the first assistant text arrives (the turn runs). */
async function openStream(app: TestApp, user: string, body: unknown): Promise<OpenStream> {
  const controller = new AbortController();
  const res = await app.fetch('/chatkit', { method: 'POST', user, json: body, signal: controller.signal });
  if (res.status !== 200) return { status: res.status, json: await res.json(), close: () => undefined };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let seen = '';
  while (!seen.includes('assistant_message.content_part.text_delta')) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value, { stream: true });
  }
  return { status: 200, close: () => controller.abort() };
}

/** Retries `attempt` until it returns something other than `busy`, or the deadline passes. */
async function until<T>(attempt: () => Promise<T>, busy: (r: T) => boolean, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const result = await attempt();
    if (!busy(result) || Date.now() > deadline) return result;
    await sleep(50);
  }
}

async function itemsOf(app: TestApp, user: string, threadId: string): Promise<any[]> {
  const res = await chatkit(app, user, { type: 'items.list', params: { thread_id: threadId, order: 'asc' } });
  expect(res.status).toBe(200);
  return res.json.data;
}

const textOf = (item: any): string => item.content.map((c: any) => c.text).join('');

describe('streams and misbehaving clients', () => {
  let fake: FakeOpenAI;
  let app: TestApp;
  let jwksServer: Server;
  let rsaKey: KeyLike;
  /** While set, the JWKS endpoint answers only once it resolves (a slow identity provider). */
  let jwksGate: Promise<void> | undefined;
  let jwksAsked: () => void = () => undefined;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    rsaKey = pair.privateKey;
    const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' }] };
    jwksServer = createServer((req, res) => {
      jwksAsked();
      void (jwksGate ?? Promise.resolve()).then(() => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(jwks));
      });
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
    const { port } = jwksServer.address() as { port: number };
    fake = await FakeOpenAI.start();
    app = await startApp({
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'test',
      OPENAI_API: 'responses',
      AGENT_MODEL: 'gpt-test',
      AGENT_REQUEST_TIMEOUT_MS: '30000',
      AGENT_MAX_RETRIES: '0',
      CHATKIT_HEARTBEAT_MS: '0',
      CHATKIT_MAX_STREAMS_PER_USER: String(MAX_STREAMS),
      CHATKIT_STREAM_BUFFER_BYTES: String(BUFFER_BYTES),
      CHATKIT_SLOW_READER_TIMEOUT_MS: '1000',
      AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      RAG_SEED_DOCS: 'false',
      RAG_EMBEDDINGS_MODEL: undefined,
    });
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
    await new Promise((r) => jwksServer?.close(r));
  });
  beforeEach(() => fake.reset());

  async function createThread(user: string): Promise<string> {
    fake.enqueue(textTurn('Hello.'), textTurn('A title'));
    const res = await chatkit(app, user, { type: 'threads.create', params: { input: userInput('Hi') } });
    expect(res.status).toBe(200);
    expect(res.events.some((e) => e.type === 'error')).toBe(false);
    return res.events[0].thread.id as string;
  }

  it('a client that leaves before the stream opens cancels the turn and frees the thread', async () => {
    const user = uniqueUser();
    const threadId = await createThread(user);
    const before = fake.requests.length;
    // Forty words, a quarter second apart: ten seconds of answer if nobody stops it.
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    fake.enqueue(textTurn(words, { deltaDelayMs: 250 }));

    // The identity provider is slow, so the request is still being authenticated when the
    // client hangs up: nothing of the stream has been written yet.
    let release!: () => void;
    jwksGate = new Promise<void>((r) => (release = r));
    const asked = new Promise<void>((r) => (jwksAsked = r));
    const token = await new SignJWT({ sub: user })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setExpirationTime('5m')
      .sign(rsaKey);
    const socket = rawChatkit(app, token, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('Count slowly') },
    });
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    await asked;
    socket.destroy();
    release();
    jwksGate = undefined;
    expect(received).toBe(0);

    // What the user sent is kept...
    const stored = await until(
      () => itemsOf(app, user, threadId),
      (list) => !list.some((i) => i.type === 'user_message' && textOf(i) === 'Count slowly'),
      3000,
    );
    expect(stored.filter((i) => i.type === 'user_message').map(textOf)).toEqual(['Hi', 'Count slowly']);

    // ...and within a couple of seconds the thread takes a new message.
    const next = await until(
      () =>
        openStream(app, user, {
          type: 'threads.add_user_message',
          params: { thread_id: threadId, input: userInput('Are you there?') },
        }),
      (r) => r.status === 409,
      2500,
    );
    expect(next.status).toBe(200);
    next.close();

    // A model call made for the abandoned turn was hung up on, not answered to the end.
    const abandoned = fake.requestsTo('/v1/responses').filter((r) => {
      const sent = JSON.stringify(r.body);
      return r.index >= before && sent.includes('Count slowly') && !sent.includes('Are you there?');
    });
    for (const request of abandoned) {
      const closed = await fake.waitForClientClose(request.index, 3000);
      expect(closed.deltasWritten).toBeLessThan(40);
    }

    const items = await itemsOf(app, user, threadId);
    expect(items.filter((i) => i.type === 'user_message').map(textOf)).toEqual([
      'Hi',
      'Count slowly',
      'Are you there?',
    ]);
  });

  it('a client that stops reading is cut, its partial answer kept, and the thread freed', async () => {
    const user = uniqueUser();
    const threadId = await createThread(user);
    // Far more than the kernel's socket buffers hold between a server and a client that never
    // reads: without backpressure the server would take all of it into memory.
    const chunk = 'x'.repeat(32 * 1024 - 1) + ' ';
    const chunks = Array.from({ length: 512 }, () => chunk);
    const answer = chunks.join('');
    fake.enqueue(textTurn(answer, { chunks }));

    const token = await tokenFor(user);
    const socket = rawChatkit(
      app,
      token,
      {
        type: 'threads.add_user_message',
        params: { thread_id: threadId, input: userInput('Tell me everything') },
      },
      { paused: true },
    );
    try {
      // Requests 0 and 1 were the first answer and the title.
      await fake.waitForRequest(2);

      // The server keeps answering other requests meanwhile.
      const live = await app.fetch('/health/live');
      expect(live.status).toBe(200);

      // The reader is cut and the thread taken back (generous: the kernel buffers fill first).
      fake.enqueue(textTurn('Short answer.'));
      const next = await until(
        () =>
          chatkit(app, user, {
            type: 'threads.add_user_message',
            params: { thread_id: threadId, input: userInput('Just the gist') },
          }),
        (r) => r.status === 409,
        20_000,
      );
      expect(next.status).toBe(200);
      expect(next.events.some((e) => e.type === 'error')).toBe(false);

      const items = await itemsOf(app, user, threadId);
      expect(items.map((i) => i.type)).toEqual([
        'user_message',
        'assistant_message',
        'user_message',
        'assistant_message',
        'user_message',
        'assistant_message',
      ]);
      // The cut answer is stored as far as it got: something, but not the whole of it.
      const partial = textOf(items[3]);
      expect(partial.length).toBeGreaterThan(0);
      expect(partial.length).toBeLessThan(answer.length);
      expect(answer.startsWith(partial)).toBe(true);
      expect(textOf(items[5])).toBe('Short answer.');
      // The model was held back while the client did not read, and the cut hung up on it.
      const cut = await fake.waitForClientClose(2, 5000);
      expect(cut.completedAt).toBeUndefined();
    } finally {
      socket.destroy();
    }
  });

  describe(`at most ${MAX_STREAMS} streams per user`, () => {
    const create = (text: string) => ({ type: 'threads.create', params: { input: userInput(text) } });
    const listThreads = async (user: string) =>
      (await chatkit(app, user, { type: 'threads.list', params: {} })).json.data as any[];

    it('refuses one more with 429 too_many_streams, stores nothing, spares other users, and frees the slot', async () => {
      const alice = uniqueUser('alice');
      const bob = uniqueUser('bob');
      const open: OpenStream[] = [];
      try {
        fake.enqueue(stallAfter(1, textTurn('one two three')), stallAfter(1, textTurn('one two three')));
        open.push(await openStream(app, alice, create('first')));
        open.push(await openStream(app, alice, create('second')));
        expect(open.map((s) => s.status)).toEqual([200, 200]);

        const third = await openStream(app, alice, create('third'));
        open.push(third);
        expect(third.status).toBe(429);
        expect(third.json).toMatchObject({ statusCode: 429, code: 'too_many_streams' });
        expect(third.json.message).toContain(`${MAX_STREAMS}`);
        expect((await listThreads(alice)).length).toBe(2);

        // Someone else streams as usual.
        fake.enqueue(stallAfter(1, textTurn('one two three')));
        const other = await openStream(app, bob, create('mine'));
        open.push(other);
        expect(other.status).toBe(200);

        // Once one of hers ends, she may open another.
        open[0].close();
        fake.enqueue(stallAfter(1, textTurn('one two three')));
        const again = await until(
          () => openStream(app, alice, create('again')),
          (r) => r.status === 429,
          3000,
        );
        open.push(again);
        expect(again.status).toBe(200);
        expect((await listThreads(alice)).length).toBe(3);
      } finally {
        for (const stream of open) stream.close();
      }
    });

    it('counts only streams that opened: refused requests and finished streams free their slot', async () => {
      const user = uniqueUser();
      for (let i = 0; i < MAX_STREAMS + 1; i++) {
        const missing = await chatkit(app, user, {
          type: 'threads.add_user_message',
          params: { thread_id: 'thread_missing', input: userInput('hello?') },
        });
        expect(missing.status).toBe(404);
      }
      for (let i = 0; i < MAX_STREAMS + 1; i++) {
        fake.enqueue(textTurn('Done.'), textTurn('A title'));
        const res = await chatkit(app, user, create(`turn ${i}`));
        expect(res.status).toBe(200);
      }
    });
  });
});

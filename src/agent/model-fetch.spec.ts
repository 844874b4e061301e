/**
 * The model transport (model-fetch.ts) and the Responses event reader on top of it
 * (responses-stream.ts), over real HTTP on loopback: against the fake OpenAI server, the events,
 * errors and retries must be the ones the `openai` client gives on its own; against small raw
 * servers, the edges the fake does not script (compression, `[DONE]`, malformed JSON, the read
 * gate, connection reuse).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import OpenAI, { APIConnectionError, APIError, RateLimitError } from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { modelBodyOf, modelFetch } from 'src/agent/model-fetch';
import { responseEvents, withLeanResponseStreams } from 'src/agent/responses-stream';
import { ReadGate, withReadGate } from 'src/chatkit/read-gate';
import {
  FakeOpenAI,
  dropConnectionAfter,
  errorTurn,
  stallAfter,
  streamErrorAfter,
  textTurn,
} from 'test/support/fake-openai';

let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function official(maxRetries = 0): OpenAI {
  return new OpenAI({ apiKey: 'test', baseURL: fake.baseURL, maxRetries });
}

function lean(maxRetries = 0): OpenAI {
  return withLeanResponseStreams(
    new OpenAI({ apiKey: 'test', baseURL: fake.baseURL, maxRetries, fetch: modelFetch() }),
  );
}

async function stream(client: OpenAI, signal?: AbortSignal): Promise<AsyncIterable<ResponseStreamEvent>> {
  return client.responses.create({ model: 'gpt-test', input: 'Hi', stream: true }, { signal });
}

async function collect(
  events: AsyncIterable<ResponseStreamEvent>,
): Promise<{ events: ResponseStreamEvent[]; error?: unknown }> {
  const seen: ResponseStreamEvent[] = [];
  try {
    for await (const event of events) seen.push(event);
    return { events: seen };
  } catch (error) {
    return { events: seen, error };
  }
}

const deltas = (events: ResponseStreamEvent[]) =>
  events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');

/** The fake numbers its ids per server and stamps times; neither is part of what is compared. */
const comparable = (events: ResponseStreamEvent[]) =>
  JSON.parse(
    JSON.stringify(events)
      .replace(/_fake\d+/g, '_fakeN')
      .replace(/"(created_at|completed_at)":\d+/g, '"$1":0'),
  );

describe('against the fake model, the same as the openai client alone', () => {
  it('yields the same events, in the same order', async () => {
    fake.enqueue(textTurn('one two three four'), textTurn('one two three four'));
    const theirs = await collect(await stream(official()));
    const ours = await collect(await stream(lean()));
    expect(ours.error).toBeUndefined();
    expect(deltas(ours.events)).toBe('one two three four');
    expect(ours.events.length).toBeGreaterThan(6);
    expect(comparable(ours.events)).toEqual(comparable(theirs.events));
  });

  it('gives the SDK the request id with the stream', async () => {
    fake.enqueue(textTurn('hi'));
    const created = lean().responses.create({ model: 'gpt-test', input: 'Hi', stream: true });
    const withResponse = (
      created as unknown as {
        withResponse(): Promise<{ request_id: string | null; data: AsyncIterable<ResponseStreamEvent> }>;
      }
    ).withResponse;
    const { request_id, data } = await withResponse.call(created);
    // The fake numbers its answers' x-request-id headers.
    expect(request_id).toMatch(/^req_fake\d{4}$/);
    expect(deltas((await collect(data)).events)).toBe('hi');
    expect(fake.requests).toHaveLength(1);
  });

  it('retries a refused request before the first byte, as the client does', async () => {
    fake.enqueue(errorTurn(500, { retryAfterMs: 5 }), textTurn('after a retry'));
    const ours = await collect(await stream(lean(1)));
    expect(ours.error).toBeUndefined();
    expect(deltas(ours.events)).toBe('after a retry');
    expect(fake.requests).toHaveLength(2);
  });

  it("raises the client's own error for a refused request", async () => {
    fake.enqueue(errorTurn(429));
    await expect(stream(lean())).rejects.toBeInstanceOf(RateLimitError);
  });

  it('raises an APIError for an error event, after the events before it', async () => {
    fake.enqueue(streamErrorAfter(2, textTurn('one two three four')));
    const ours = await collect(await stream(lean()));
    expect(deltas(ours.events)).toBe('one two');
    expect(ours.error).toBeInstanceOf(APIError);
    expect(fake.requests).toHaveLength(1);
  });

  it('raises a connection error when the connection drops mid-answer', async () => {
    fake.enqueue(dropConnectionAfter(2, textTurn('one two three four')));
    const ours = await collect(await stream(lean()));
    expect(deltas(ours.events)).toBe('one two');
    expect(ours.error).toBeInstanceOf(APIConnectionError);
  });

  it('ends quietly on abort and hangs up on the model', async () => {
    fake.enqueue(stallAfter(1, textTurn('one two three')));
    const controller = new AbortController();
    const seen: ResponseStreamEvent[] = [];
    for await (const event of await stream(lean(), controller.signal)) {
      seen.push(event);
      if (event.type === 'response.output_text.delta') controller.abort();
    }
    expect(deltas(seen)).toBe('one');
    await waitFor(() => fake.requests[0]?.clientClosed === true);
  });

  it('hangs up on the model when the reader leaves early', async () => {
    fake.enqueue(stallAfter(1, textTurn('one two three')));
    for await (const event of await stream(lean())) {
      if (event.type === 'response.output_text.delta') break;
    }
    await waitFor(() => fake.requests[0]?.clientClosed === true);
  });

  it('leaves requests that are not streams to the client (a title, say)', async () => {
    fake.enqueue(textTurn('A short title'));
    const response = await lean().responses.create({ model: 'gpt-test', input: 'Hi' });
    expect(response.output_text).toBe('A short title');
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(10);
  expect(condition()).toBe(true);
}

describe('against a raw server', () => {
  let server: Server;
  let url: string;
  let answer: (res: ServerResponse, headers: IncomingHttpHeaders) => void;
  let connections = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(res, req.headers));
    });
    server.on('connection', () => connections++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/responses`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  const post = (fetch = modelFetch()) => fetch(url, { method: 'POST', body: '{}' });
  /** An answer that starts an event stream, then writes `body` and ends it (or leaves it open). */
  const eventStream =
    (body: string, end = true) =>
    (res: ServerResponse): void => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (end) res.end(body);
      else res.write(body);
    };
  const sse = (...events: string[]) => events.map((e) => `${e}\n\n`).join('');
  const event = (n: number) =>
    `data: ${JSON.stringify({ type: 'response.output_text.delta', delta: `d${n}` })}`;

  it('stops at [DONE] and reads nothing after it', async () => {
    answer = eventStream(
      sse(event(1), `event: response.output_text.delta\n${event(2)}`, 'data: [DONE]', event(3)),
    );
    const { events, error } = await collect(responseEvents(await post()));
    expect(error).toBeUndefined();
    expect(deltas(events)).toBe('d1d2');
  });

  it('raises a SyntaxError for an event that is not JSON', async () => {
    answer = eventStream(sse(event(1), 'data: {not json'));
    const { events, error } = await collect(responseEvents(await post()));
    expect(deltas(events)).toBe('d1');
    expect(error).toBeInstanceOf(SyntaxError);
  });

  it('reads an event split across chunks, and comments and blank data between events', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const whole = sse(': keep-alive', event(1), event(2));
      res.write(whole.slice(0, 30));
      setTimeout(() => res.end(whole.slice(30)), 20);
    };
    const { events, error } = await collect(responseEvents(await post()));
    expect(error).toBeUndefined();
    expect(deltas(events)).toBe('d1d2');
  });

  it('asks for no compression, and decodes an answer compressed anyway', async () => {
    let asked: string | undefined;
    answer = (res, headers) => {
      asked = headers['accept-encoding'];
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      res.end(gzipSync(sse(event(1), event(2))));
    };
    const { events, error } = await collect(responseEvents(await post()));
    expect(asked).toBe('identity');
    expect(error).toBeUndefined();
    expect(deltas(events)).toBe('d1d2');
  });

  it("reads nothing more while the turn's read gate is closed, on both of a body's sides", async () => {
    let last!: () => void;
    answer = (res) => {
      eventStream(sse(event(1)), false)(res);
      setTimeout(() => res.write(sse(event(2))), 20);
      last = () => res.end(sse(event(3)));
    };
    const gate = new ReadGate();
    const response = await withReadGate(gate, () => post());
    const body = modelBodyOf(response)!;
    expect((await body.read())?.toString()).toContain('d1');

    gate.close();
    let settled = false;
    const next = body.read().finally(() => (settled = true));
    await sleep(120);
    expect(settled).toBe(false);
    gate.open();
    expect((await next)?.toString()).toContain('d2');

    // The web stream of the same body waits for the same gate.
    gate.close();
    const reader = response.body!.getReader();
    let webSettled = false;
    const web = reader.read().finally(() => (webSettled = true));
    last();
    await sleep(60);
    expect(webSettled).toBe(false);
    gate.open();
    expect(Buffer.from((await web).value!).toString()).toContain('d3');
  });

  it('counts a last event the server did not close with a blank line, as the client does', async () => {
    answer = eventStream(`${sse(event(1))}${event(2)}\n`);
    const { events, error } = await collect(responseEvents(await post()));
    expect(error).toBeUndefined();
    expect(deltas(events)).toBe('d1d2');
  });

  it('yields nothing more once aborted, not even the rest of the same chunk', async () => {
    answer = eventStream(sse(event(1), event(2), event(3)), false);
    const controller = new AbortController();
    const response = await modelFetch()(url, { method: 'POST', body: '{}', signal: controller.signal });
    const seen: ResponseStreamEvent[] = [];
    for await (const e of responseEvents(response, controller.signal)) {
      seen.push(e);
      controller.abort();
    }
    expect(deltas(seen)).toBe('d1');
  });

  it('holds back only event streams for the gate: a JSON answer is read at once', async () => {
    answer = (res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad"}}');
    };
    const gate = new ReadGate();
    gate.close();
    const response = await withReadGate(gate, () => post());
    expect(await response.json()).toEqual({ error: { message: 'bad' } });
    gate.open();
  });

  it('fails a request whose status a Response cannot carry, without taking the process down', async () => {
    answer = (res) => {
      res.writeHead(999);
      res.end('?');
    };
    await expect(post()).rejects.toThrow();
    answer = (res) => {
      res.writeHead(205);
      res.end();
    };
    const reset = await post();
    expect(reset.status).toBe(205);
    expect(reset.body).toBeNull();
  });

  it("leaves a redirected request to the platform's fetch, which follows it", async () => {
    answer = (res) => {
      res.writeHead(307, { location: '/elsewhere' });
      res.end();
    };
    const calls: unknown[] = [];
    const fallback = ((input: string) => {
      calls.push(input);
      return Promise.resolve(new Response('{"followed":true}'));
    }) as unknown as typeof fetch;
    const response = await post(modelFetch(fallback));
    expect(await response.json()).toEqual({ followed: true });
    expect(calls).toEqual([url]);
  });

  it('keeps the connection for the next request once an answer is read', async () => {
    answer = eventStream(sse(event(1)));
    const fetch = modelFetch();
    const before = connections;
    for (let i = 0; i < 3; i++) await collect(responseEvents(await post(fetch)));
    expect(connections - before).toBe(1);
  });

  it('goes through the proxy that NODE_USE_ENV_PROXY and HTTP_PROXY name, as fetch would', async () => {
    const seen: string[] = [];
    const proxy = createServer((req, res) => {
      // A forward proxy is asked for the absolute URL; this one answers in the origin's place.
      seen.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.end(sse(event(7))));
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    try {
      const env = {
        NODE_USE_ENV_PROXY: '1',
        HTTP_PROXY: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      };
      const { events } = await collect(responseEvents(await post(modelFetch(globalThis.fetch, env))));
      expect(deltas(events)).toBe('d7');
      expect(seen).toEqual([url]);
      // Without the switch, the same proxy variable is not used.
      answer = (res) => res.end(sse(event(8)));
      const direct = await collect(
        responseEvents(await post(modelFetch(globalThis.fetch, { HTTP_PROXY: env.HTTP_PROXY }))),
      );
      expect(deltas(direct.events)).toBe('d8');
      expect(seen).toHaveLength(1);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  it("leaves a body that is not a string (an upload) to the platform's fetch", async () => {
    const calls: unknown[] = [];
    const fallback = ((input: string) => {
      calls.push(input);
      return Promise.resolve(new Response('{}'));
    }) as unknown as typeof fetch;
    const form = new FormData();
    form.append('file', new Blob(['x']), 'a.wav');
    await modelFetch(fallback)(url, { method: 'POST', body: form });
    expect(calls).toEqual([url]);
    answer = (res) => res.end('{}');
    await (await modelFetch(fallback)(url, { method: 'POST', body: '{}' })).text();
    expect(calls).toHaveLength(1);
  });
});

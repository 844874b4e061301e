/**
 * The `fetch` the OpenAI client uses for model calls: a plain `node:http(s)` request over one
 * keep-alive agent per scheme, answered as a standard `Response`. The platform's `fetch` costs a
 * few hundred microseconds of CPU per call in request objects, header guards and web streams;
 * this is most of a streamed turn's transport cost (docs/performance.md, "A leaner model
 * transport").
 *
 * Two things besides speed:
 * - A streamed answer made on behalf of a ChatKit turn is read only while that turn's read gate is
 *   open (src/chatkit/read-gate.ts). The Agents SDK reads the model as fast as it arrives and
 *   queues every event for the stream; held back here instead, the unread bytes stay in the
 *   kernel and TCP flow control slows the model server, so a client that does not read costs a
 *   bounded amount of memory however long the answer.
 * - The body of each answer is also reachable as the Node stream it came from (`modelBodyOf`), so
 *   the Responses event reader (responses-stream.ts) reads it without a web stream in between.
 *
 * It must never change what is read, only when: every byte in order, and abort passed on.
 * Requests it does not handle (a body that is not a string, such as an audio upload; a scheme
 * other than http and https) go to the platform's `fetch` untouched, and so does a request the
 * server redirects (the platform's `fetch` follows redirects). Retries, timeouts and error
 * mapping stay with the OpenAI client, which calls this once per attempt.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { APIConnectionError, type ClientOptions } from 'openai';
import { currentReadGate, type ReadGate } from 'src/chatkit/read-gate';

export type Fetch = NonNullable<ClientOptions['fetch']>;

/** An answer's body as it arrived, with what decides when it may be read. */
export class ModelBody {
  private failure?: Error;
  private ended = false;

  constructor(
    private readonly message: Readable,
    private readonly gate: ReadGate | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    // Recorded, and thrown by the next read as the client's own connection error, so it is
    // counted and reported as one; a listener must exist for the process's sake.
    message.on('error', (cause) => (this.failure ??= closedMidAnswer(cause)));
    message.on('end', () => (this.ended = true));
  }

  /** The next chunk once the gate lets it be read; null at the end of the body. */
  async read(): Promise<Buffer | null> {
    if (this.gate?.closed) await openOrAborted(this.gate, this.signal);
    // Aborted (perhaps while waiting for the gate): what already arrived is not handed out.
    if (this.signal?.aborted) throw abortReason(this.signal);
    return this.next();
  }

  /** Stops reading: the connection is closed (an unfinished answer cannot be reused). */
  cancel(): void {
    if (!this.ended) this.message.destroy();
  }

  /** Reads the rest unseen, so a finished answer's connection goes back to the pool. */
  discard(): void {
    this.message.resume();
  }

  private next(): Promise<Buffer | null> {
    const message = this.message;
    const chunk = message.read() as Buffer | null;
    if (chunk !== null) return Promise.resolve(chunk);
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended || message.readableEnded) return Promise.resolve(null);
    if (message.destroyed) return Promise.reject(this.failure ?? closedMidAnswer(message.errored));
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        message.off('readable', settle);
        message.off('end', settle);
        message.off('close', settle);
        message.off('error', settle);
        this.next().then(resolve, reject);
      };
      message.on('readable', settle);
      message.on('end', settle);
      message.on('close', settle);
      message.on('error', settle);
    });
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('The model request was aborted.', 'AbortError');
}

function closedMidAnswer(cause: unknown): Error {
  if (cause instanceof Error && cause.name === 'AbortError') return cause;
  return new APIConnectionError({
    message: 'The model connection closed mid-answer.',
    cause: cause as Error,
  });
}

const bodies = new WeakMap<Response, ModelBody>();

/** The Node side of an answer this fetch returned; undefined for any other Response. */
export function modelBodyOf(response: Response): ModelBody | undefined {
  return bodies.get(response);
}

/**
 * `env` decides the proxy as it does for the platform's own `fetch` and agents: with
 * NODE_USE_ENV_PROXY=1 (or `--use-env-proxy`), HTTP_PROXY, HTTPS_PROXY and NO_PROXY apply.
 */
export function modelFetch(fallback: Fetch = globalThis.fetch, env: NodeJS.ProcessEnv = process.env): Fetch {
  const proxied =
    env.NODE_USE_ENV_PROXY === '1' ||
    process.execArgv.includes('--use-env-proxy') ||
    (env.NODE_OPTIONS ?? '').includes('--use-env-proxy');
  // An idle connection is dropped after 4 s, as the platform's fetch does: servers that close
  // idle connections themselves after about 5 s would otherwise race a request on it.
  const options = { keepAlive: true, timeout: IDLE_SOCKET_MS, ...(proxied ? { proxyEnv: env } : {}) };
  const agents: Record<string, http.Agent> = {
    'http:': new http.Agent(options),
    'https:': new https.Agent(options),
  };
  return (input, init) => {
    if (typeof input !== 'string' && !(input instanceof URL)) return fallback(input, init);
    const url = typeof input === 'string' ? new URL(input) : input;
    const agent = agents[url.protocol];
    const body = init?.body;
    if (!agent || (body != null && typeof body !== 'string')) return fallback(input, init);
    // Looked up when the request starts: the SDK starts it inside the turn's scope.
    return request(url, agent, init ?? {}, body ?? undefined, currentReadGate()).then(
      (response) => response ?? fallback(input, init),
    );
  };
}

const IDLE_SOCKET_MS = 4000;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function request(
  url: URL,
  agent: http.Agent,
  init: RequestInit,
  body: string | undefined,
  gate: ReadGate | undefined,
): Promise<Response | undefined> {
  const headers: Record<string, string> = {};
  // The client hands over a Headers object; anything else is read through one.
  const given = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
  given.forEach((value, name) => (headers[name] = value));
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  // The platform's fetch decodes compressed answers itself; asking for none keeps the bytes as
  // they are on the wire (a server that compresses anyway is decoded below).
  headers['accept-encoding'] = 'identity';
  const signal = init.signal ?? undefined;
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: init.method ?? 'GET', headers, agent, signal }, (message) => {
      if (REDIRECTS.has(message.statusCode ?? 0) && message.headers.location) {
        // Left to the platform's fetch, which follows it (undefined: ask it).
        message.resume();
        resolve(undefined);
        return;
      }
      try {
        resolve(answer(url, message, gate, signal));
      } catch (error) {
        // A status a Response cannot carry (below 200, above 599): the connection is not used.
        message.destroy();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    // Before the answer this rejects the fetch (the client retries or maps it); after it, the
    // same failure reaches the body's reader through the message.
    req.on('error', reject);
    req.end(body);
  });
}

function answer(
  url: URL,
  message: IncomingMessage,
  gate: ReadGate | undefined,
  signal: AbortSignal | undefined,
): Response {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const status = message.statusCode ?? 502;
  // Only an event stream waits for the turn's client; an error's JSON, an embedding or a title
  // is read at once, whatever the client does.
  const streamed = (headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
  const source = new ModelBody(
    decoded(message, headers.get('content-encoding')),
    streamed ? gate : undefined,
    signal,
  );
  const empty = status === 204 || status === 205 || status === 304;
  const response = new Response(empty ? null : webBody(source), {
    status,
    statusText: message.statusMessage ?? '',
    headers,
  });
  if (empty) source.discard();
  // The client logs the URL of what it got back.
  Object.defineProperty(response, 'url', { value: url.href });
  bodies.set(response, source);
  return response;
}

function decoded(message: IncomingMessage, header: string | null): Readable {
  const encoding = header?.trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  if (!decoder) return message;
  message.on('error', (error) => decoder.destroy(error));
  decoder.on('close', () => message.destroy());
  return message.pipe(decoder);
}

/** The same body as a web stream, read only when asked for (nothing read ahead). */
function webBody(source: ModelBody): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await source.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel() {
        source.cancel();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Resolves when the gate opens or the request is aborted, whichever comes first. */
function openOrAborted(gate: ReadGate, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return gate.whenOpen();
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void gate.whenOpen().then(done);
  });
}

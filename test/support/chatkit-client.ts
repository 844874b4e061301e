/** A tiny ChatKit client for tests: posts to /chatkit and parses SSE frames as ChatKit.js does. */
import { connect, type Socket } from 'node:net';
import type { TestApp } from 'test/support/test-app';

export interface ChatKitResult {
  status: number;
  headers: Headers;
  /** Parsed JSON for JSON answers. */
  json?: any;
  /** Parsed events for SSE answers. */
  events: any[];
  raw: string;
}

export function parseSse(raw: string): any[] {
  return raw
    .split('\n\n')
    .filter((frame) => frame.startsWith('data: '))
    .map((frame) => JSON.parse(frame.slice(6)));
}

export async function chatkit(
  app: TestApp,
  user: string,
  body: unknown,
  opts: { org?: string } = {},
): Promise<ChatKitResult> {
  const res = await app.fetch('/chatkit', { method: 'POST', user, org: opts.org, json: body });
  const raw = await res.text();
  const isSse = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
  return {
    status: res.status,
    headers: res.headers,
    raw,
    events: isSse ? parseSse(raw) : [],
    json: !isSse && raw ? JSON.parse(raw) : undefined,
  };
}

/** Starts a thread whose first message is `text`: the whole turn, streamed. */
export function createThread(app: TestApp, user: string, text: string): Promise<ChatKitResult> {
  return chatkit(app, user, { type: 'threads.create', params: { input: userInput(text) } });
}

/** The widget item a stream finished (the first one), or undefined when it showed none. */
export const widgetItem = (events: any[]): any =>
  events.find((e) => e.type === 'thread.item.done' && e.item.type === 'widget')?.item;

/**
 * Opens a stream and reads events until `stopWhen` says so, then disconnects (the user pressing
 * stop). Returns the events seen before the disconnect.
 */
export async function chatkitUntil(
  app: TestApp,
  user: string,
  body: unknown,
  stopWhen: (events: any[]) => boolean,
): Promise<any[]> {
  const controller = new AbortController();
  const res = await app.fetch('/chatkit', { method: 'POST', user, json: body, signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: any[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let idx: number;
    while ((idx = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, idx);
      buffer = buffer.slice(idx + 2);
      if (frame.startsWith('data: ')) events.push(JSON.parse(frame.slice(6)));
    }
    if (stopWhen(events)) {
      controller.abort();
      break;
    }
  }
  return events;
}

export const userInput = (text: string, extra: Record<string, unknown> = {}) => ({
  content: [{ type: 'input_text', text }],
  attachments: [],
  inference_options: {},
  ...extra,
});

/** Sends one complete POST /chatkit on a raw socket and leaves the socket to the caller. */
export function rawChatkit(
  app: TestApp,
  token: string,
  body: unknown,
  opts: { paused?: boolean } = {},
): Socket {
  const { port } = new URL(app.url);
  const json = Buffer.from(JSON.stringify(body));
  const socket = connect(Number(port), '127.0.0.1');
  // A paused socket never takes bytes out of the kernel: the client stopped reading.
  if (opts.paused) socket.pause();
  socket.on('error', () => undefined);
  socket.write(
    `POST /chatkit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n`,
  );
  socket.write(json);
  return socket;
}

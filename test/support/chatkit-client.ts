/** A tiny ChatKit client for tests: posts to /chatkit and parses SSE frames as ChatKit.js does. */
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

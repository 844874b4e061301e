/**
 * Long answers a test can act on while they stream, and a reader that follows such a stream.
 * `pacedAnswers` answers the fake model's requests: a user message containing `slow-<n>` gets n
 * words, `deltaMs` apart; anything else (titles included) a short immediate answer. `followStream`
 * posts a streaming request and hands back control once an event of interest has arrived, while
 * the rest of the stream keeps being read.
 */
import { parseSse } from 'test/support/chatkit-client';
import {
  textTurn,
  type FakeOpenAI,
  type RecordedRequest,
  type ScriptedModelTurn,
} from 'test/support/fake-openai';

export const PACED_DELTA_MS = 80;

export function pacedAnswers(deltaMs = PACED_DELTA_MS): (request: RecordedRequest) => ScriptedModelTurn {
  return (request) => {
    const body = request.body as { input?: unknown };
    const input = Array.isArray(body.input)
      ? (body.input as Array<{ role?: string; content?: unknown }>)
      : [];
    const lastUser = [...input].reverse().find((item) => item.role === 'user');
    const slow = request.stream ? /slow-(\d+)/.exec(JSON.stringify(lastUser?.content ?? '')) : null;
    if (!slow) return textTurn('Short answer.');
    const words = Array.from({ length: Number(slow[1]) }, (_, i) => `word${i}`).join(' ');
    return textTurn(words, { deltaDelayMs: deltaMs });
  };
}

/** The last streamed model request the fake received: the turn's own, with its history. */
export function lastStreamedModelCall(fake: FakeOpenAI): RecordedRequest {
  const calls = fake.requestsTo('/v1/responses').filter((r) => r.stream);
  if (!calls.length) throw new Error('the fake model received no streamed request');
  return calls[calls.length - 1];
}

export interface FollowedStream {
  status: number;
  /** The JSON body of a response that is not a stream. */
  body?: any;
  /** The events read so far. */
  events: any[];
  /** Resolves when the server ends the stream (or the read fails), with all events. */
  ended: Promise<any[]>;
  abort(): void;
}

export const firstTextDelta = (event: any): boolean =>
  event.update?.type === 'assistant_message.content_part.text_delta';

/** Sends the request with `send(signal)` and resolves once an event satisfies `until` (or at the end). */
export async function followStream(
  send: (signal: AbortSignal) => Promise<Response>,
  until: (event: any) => boolean = firstTextDelta,
): Promise<FollowedStream> {
  const controller = new AbortController();
  const res = await send(controller.signal);
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const body: unknown = await res.json();
    return { status: res.status, body, events: [], ended: Promise.resolve([]), abort: () => undefined };
  }
  const events: any[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let reached: () => void = () => undefined;
  const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const cut = buffer.lastIndexOf('\n\n');
        if (cut < 0) continue;
        const fresh = parseSse(buffer.slice(0, cut + 2));
        buffer = buffer.slice(cut + 2);
        events.push(...fresh);
        if (fresh.some(until)) reached();
      }
    } catch {
      // Aborted by the test, or cut by the server: the events read so far are the answer.
    }
    reached();
    return events;
  })();
  await reachedPromise;
  return { status: res.status, events, ended, abort: () => controller.abort() };
}

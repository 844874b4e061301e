/**
 * The `fetch` the OpenAI client uses: a streamed model answer made on behalf of a ChatKit turn is
 * read only while that turn's read gate is open. The Agents SDK reads the model's response as
 * fast as it arrives and queues every event for the stream; held back here instead, the unread
 * bytes stay in the kernel and TCP flow control slows the model server, so a client that does not
 * read costs a bounded amount of memory however long the answer.
 *
 * It must never change what is read, only when: every byte in order, cancel and abort passed on.
 * Requests made outside a turn (embeddings at startup, say) and answers that are not event
 * streams are returned untouched.
 */
import type { ClientOptions } from 'openai';
import { currentReadGate, type ReadGate } from 'src/chatkit/read-gate';

export type Fetch = NonNullable<ClientOptions['fetch']>;

export function gatedFetch(inner: Fetch = globalThis.fetch): Fetch {
  return async (input, init) => {
    // Looked up when the request starts: the SDK starts it inside the turn's scope.
    const gate = currentReadGate();
    const response = await inner(input, init);
    if (!gate || !response.body || !isEventStream(response)) return response;
    return gated(response, gate, init?.signal ?? undefined);
  };
}

function isEventStream(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
}

function gated(response: Response, gate: ReadGate, signal: AbortSignal | undefined): Response {
  const reader = response.body!.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (gate.closed) await openOrAborted(gate, signal);
        // After an abort the read fails with the abort's error, as it would have unwrapped.
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    // Nothing read ahead of the consumer: a chunk is taken from the network only when asked for.
    { highWaterMark: 0 },
  );
  const wrapped = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  // The client logs the URL of what it got back.
  Object.defineProperty(wrapped, 'url', { value: response.url });
  return wrapped;
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

/**
 * A streamed Responses API answer read by us instead of the `openai` client's stream decoder,
 * for the client the Agents SDK runs on. The request itself is still the client's: headers,
 * timeout, retries before the first byte and the error raised for a non-2xx answer are exactly
 * as before (`asResponse()` hands over the answer once it is accepted). What changes is the
 * reading of the event stream: one SSE parser fed straight from the socket's chunks
 * (model-fetch.ts), without the client's web-stream iterator, line decoder and per-line copies,
 * which cost about a fifth of a millisecond per answer (docs/performance.md).
 *
 * What a reader sees is what the client's stream yields: each event's JSON in order, nothing
 * after `[DONE]`, an `APIError` for an `error` event or an event carrying `error`, a SyntaxError
 * for an event that is not JSON, and a quiet end when the request was aborted. Leaving early
 * closes the connection. The SDK only iterates the stream and asks `withResponse()` for the
 * request id, which is what the returned promise offers.
 */
import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { modelBodyOf } from 'src/agent/model-fetch';

type Create = OpenAI['responses']['create'];
type CreateBody = Parameters<Create>[0];
type CreateOptions = Parameters<Create>[1];

interface Streamed {
  data: AsyncGenerator<ResponseStreamEvent>;
  response: Response;
  request_id: string | null;
}

/**
 * A copy of `client` whose streamed `responses.create` yields events read as above; everything
 * else (non-streamed calls, chat completions, audio) is the client's own.
 */
export function withLeanResponseStreams(client: OpenAI): OpenAI {
  const copy = client.withOptions({});
  const responses = copy.responses;
  const official = responses.create.bind(responses) as (
    body: CreateBody,
    options?: CreateOptions,
  ) => ReturnType<Create>;
  const create = (body: CreateBody, options?: CreateOptions): unknown => {
    if (body.stream !== true) return official(body, options);
    const streamed: Promise<Streamed> = official(body, options)
      .asResponse()
      .then((response) => ({
        data: responseEvents(response, options?.signal ?? undefined),
        response,
        request_id: response.headers.get('x-request-id'),
      }));
    const data = streamed.then((s) => s.data);
    // The SDK awaits one of the two; the other must not report the same failure as unhandled.
    data.catch(() => undefined);
    return Object.assign(data, { withResponse: () => streamed });
  };
  // Only the Agents SDK holds this copy, and it iterates a stream and nothing else.
  responses.create = create as Create;
  return copy;
}

/** The events of one streamed answer, as the client's own stream would yield them. */
export async function* responseEvents(
  response: Response,
  signal?: AbortSignal,
): AsyncGenerator<ResponseStreamEvent> {
  const source = modelBodyOf(response) ?? webSource(response);
  const decoder = new TextDecoder();
  const messages: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => messages.push(message) });
  let finished = false;
  let sentinel = false;
  let ended = false;
  try {
    while (!sentinel && !ended) {
      const chunk = await source.read();
      // At the end, an event the server did not close with a blank line still counts, as it does
      // for the client's own decoder.
      if (chunk === null) ended = true;
      parser.feed(chunk === null ? `${decoder.decode()}\n\n` : decoder.decode(chunk, { stream: true }));
      for (let i = 0; i < messages.length && !sentinel; i++) {
        // Nothing more once the request is aborted, even what already arrived with the same chunk.
        if (signal?.aborted) return;
        const message = messages[i];
        if (message.data === '[DONE]') sentinel = true;
        else yield parse(message, response.headers);
      }
      messages.length = 0;
    }
    finished = true;
  } catch (error) {
    if (signal?.aborted || isAbort(error)) return;
    throw error;
  } finally {
    if (!finished) source.cancel();
    else if (sentinel) source.discard();
  }
}

function parse(message: EventSourceMessage, headers: Headers): ResponseStreamEvent {
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    throw new SyntaxError('Error reading response: malformed server-sent event JSON.');
  }
  const error = (data as { error?: object } | null)?.error;
  if (message.event === 'error') throw new APIError(undefined, error ?? (data as object), undefined, headers);
  if (error) throw new APIError(undefined, error, undefined, headers);
  return data as ResponseStreamEvent;
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Any other Response (a fetch that is not model-fetch.ts's), read through its web stream. */
function webSource(response: Response): {
  read(): Promise<Uint8Array | null>;
  cancel(): void;
  discard(): void;
} {
  const reader = response.body?.getReader();
  const release = (): void => void reader?.cancel().catch(() => undefined);
  return {
    read: async () => {
      if (!reader) return null;
      const { value, done } = await reader.read();
      return done ? null : value;
    },
    cancel: release,
    discard: release,
  };
}

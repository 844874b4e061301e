/**
 * How the controllers send what ChatKitService answered: a JSON value as one document (the exact
 * bytes of toWireJson, status 200), a stream through the SSE writer. The controllers own the
 * Express response; this must never decide anything about the request itself.
 */
import type { Response } from 'express';
import { toWireJson } from 'src/protocol/chatkit.wire';
import type { ChatKitResult } from 'src/chatkit/chatkit.service';
import { clientGoneSignal, SseStream, type SseOptions } from 'src/chatkit/sse.stream';
import type { ChatKitConfig } from 'src/config/chatkit.config';

export function sendJson(res: Response, value: unknown): void {
  const body = toWireJson(value);
  // A GET is answered by Express, whose ETag lets the client revalidate (304 Not Modified). No
  // client revalidates a POST: its answer is written as it is, with no hash of the body and no
  // parse of the content type we set.
  if (res.req.method === 'GET' || res.req.method === 'HEAD') {
    res.status(200).type('application/json').send(body);
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * The SSE writer for `res`, watching the client from now on: its `signal` is what the service
 * gets, so a client that leaves while the request is still being checked is not missed. Nothing
 * is written until `sendResult` is called with a stream.
 */
export function sseFor(res: Response, config: ChatKitConfig): SseStream {
  const options: SseOptions = {
    heartbeatMs: config.heartbeatMs,
    bufferBytes: config.streamBufferBytes,
    slowReaderTimeoutMs: config.slowReaderTimeoutMs,
  };
  return new SseStream(res, options, clientGoneSignal(res));
}

/** The signal of a JSON request: its answer is sent or dropped, nothing is left to stop. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** `sse` is absent for a JSON request (see isStreamingRequest): no writer was built for it. */
export async function sendResult(
  res: Response,
  sse: SseStream | undefined,
  result: ChatKitResult,
): Promise<void> {
  if (result.type === 'json') sendJson(res, result.value);
  else if (sse) {
    for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    await sse.write(result.events);
  } else throw new Error('a stream answered a request that was not sent as one');
}

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
  res.status(200).type('application/json').send(toWireJson(value));
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

export async function sendResult(res: Response, sse: SseStream, result: ChatKitResult): Promise<void> {
  if (result.type === 'json') sendJson(res, result.value);
  else await sse.write(result.events);
}

/**
 * Turns an upload request into one stream of file bytes, without buffering: a `multipart/form-data`
 * body (the `file` field, parsed by busboy as it arrives) or a raw body. The stream handed out is
 * never the request itself, so a store that destroys its input on failure leaves the connection
 * alive for the error answer; `finishRejectedUpload` then closes it instead of reading the rest.
 * It must never read more of the request than the consumer pulls.
 */
import type { Request, Response } from 'express';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { AttachmentErrorCode, AttachmentException } from 'src/attachments/attachment.exception';

// busboy (multer's parser, installed with @nestjs/platform-express) ships no type declarations;
// this is the part of its API used here.
interface BusboyFileInfo {
  filename?: string;
  mimeType?: string;
}
type BusboyParser = Writable & {
  on(event: 'file', listener: (field: string, file: Readable, info: BusboyFileInfo) => void): BusboyParser;
  on(event: 'error', listener: (err: Error) => void): BusboyParser;
  on(event: 'close', listener: () => void): BusboyParser;
};
type BusboyFactory = (options: {
  headers: Request['headers'];
  defParamCharset?: string;
  limits?: Record<string, number>;
}) => BusboyParser;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const busboy = require('busboy') as BusboyFactory;

export interface IncomingFile {
  stream: Readable;
  /** The part's file name (multipart only). */
  filename?: string;
  /** The part's Content-Type (multipart) or the request's (raw). */
  contentType?: string;
  multipart: boolean;
}

const MULTIPART = /^multipart\/form-data\b/i;

export function isMultipart(req: Request): boolean {
  return MULTIPART.test(req.headers['content-type'] ?? '');
}

/** The request's Content-Length, when it sent a valid one. */
export function declaredLength(req: Request): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^\d{1,15}$/.test(header)) return undefined;
  return Number(header);
}

export function receiveFile(req: Request): Promise<IncomingFile> {
  if ((req as Request & { _body?: boolean })._body || req.readableEnded) {
    // A body parser (JSON, URL-encoded) already consumed it; the bytes are gone.
    return Promise.reject(
      new AttachmentException(
        AttachmentErrorCode.BadBody,
        'send the file as multipart/form-data (field "file") or as a raw body with Content-Type application/octet-stream',
      ),
    );
  }
  return isMultipart(req) ? receiveMultipart(req) : Promise.resolve(receiveRaw(req));
}

function receiveRaw(req: Request): IncomingFile {
  const stream = new PassThrough();
  req.pipe(stream);
  abortWithRequest(req, stream);
  const type = req.headers['content-type'];
  return { stream, contentType: typeof type === 'string' ? type : undefined, multipart: false };
}

function receiveMultipart(req: Request): Promise<IncomingFile> {
  return new Promise((resolve, reject) => {
    let parser: BusboyParser;
    try {
      parser = busboy({
        headers: req.headers,
        // Browsers and fetch send a part's file name as raw UTF-8; busboy's default, latin1,
        // turns "résumé.txt" into "rÃ©sumÃ©.txt". (`filename*=` names its own charset.)
        defParamCharset: 'utf8',
        limits: { files: 1, fields: 20, fieldSize: 64 * 1024, parts: 32, headerPairs: 100 },
      });
    } catch (err) {
      reject(
        new AttachmentException(AttachmentErrorCode.BadBody, `bad multipart body: ${(err as Error).message}`),
      );
      return;
    }
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      reject(new AttachmentException(AttachmentErrorCode.BadBody, message));
    };
    parser.on('file', (field, file, info) => {
      if (settled || field !== 'file') {
        file.resume();
        return;
      }
      settled = true;
      abortWithRequest(req, file);
      parser.on('error', (err: Error) => file.destroy(err));
      resolve({ stream: file, filename: info.filename, contentType: info.mimeType, multipart: true });
    });
    parser.on('error', (err: Error) => fail(`bad multipart body: ${err.message}`));
    parser.on('close', () => fail('the multipart body has no "file" field'));
    req.pipe(parser);
  });
}

/** A client that hangs up mid-body must fail the stream, not leave it waiting forever. */
function abortWithRequest(req: Request, stream: Readable): void {
  req.once('close', () => {
    if (!req.complete && !stream.destroyed) stream.destroy(new Error('the client closed the upload'));
  });
}

const CLOSE_GRACE_MS = 1000;

/**
 * For an answer sent before the body was read to its end: tell the client the connection ends
 * with this answer, half-close it once the answer is out (the unread body is discarded meanwhile)
 * and cut it shortly after, rather than reading the rest. Destroying at once resets the connection
 * while the client is still sending, and a client that has not read the answer yet (fetch, for
 * one) then reports a write error (EPIPE) instead of it.
 *
 * Node's server, answering with `Connection: close`, ends the socket and destroys it as soon as
 * the answer is flushed (`socket.destroySoon()`); its own 'finish' listener runs before this one,
 * so the destroy it queued is taken back here and the grace timer does it instead.
 */
export function finishRejectedUpload(req: Request, res: Response): void {
  if (req.complete) return;
  if (!res.headersSent) res.setHeader('Connection', 'close');
  res.once('finish', () => {
    const socket = req.socket;
    if (req.complete || !socket) return;
    socket.removeListener('finish', socket.destroy);
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  });
}

/**
 * Reads the first `bytes` bytes of `source` (fewer if it ends sooner) and gives back a stream that
 * replays them followed by the rest, so the type can be judged before anything is stored.
 * Destroying the returned stream destroys `source`.
 */
export async function peekHead(source: Readable, bytes: number): Promise<{ head: Buffer; body: Readable }> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const buffered: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < bytes) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    buffered.push(chunk);
    size += chunk.length;
  }
  const head = Buffer.concat(buffered, size).subarray(0, bytes);
  let finished = ended;
  async function* replay(): AsyncGenerator<Buffer> {
    yield* buffered;
    buffered.length = 0;
    while (!finished) {
      const next = await iterator.next();
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  }
  const body = Readable.from(replay(), { objectMode: false });
  // A generator closed before its first step never runs its `finally`, so the source is ended here.
  body.once('close', () => {
    if (!finished) source.destroy();
  });
  return { head, body };
}

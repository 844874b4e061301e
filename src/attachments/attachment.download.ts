/**
 * Sends an attachment's bytes over HTTP, streamed from storage: validators (ETag = the SHA-256,
 * If-None-Match → 304), single byte ranges (206/416), and the headers that keep a browser from
 * treating user content as part of our site — nosniff, a sandboxing CSP, and `inline` only for
 * raster images. It must never buffer a whole file and never let a stored type be second-guessed
 * by the browser.
 */
import type { Request, Response } from 'express';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isInlineSafe } from 'src/attachments/attachment.mime';
import type { SignedUrlDisposition } from 'src/attachments/attachment.signer';
import type { AttachmentRecord } from 'src/attachments/attachment.store';
import type { ByteRange } from 'src/attachments/storage/attachment-storage';
import {
  contentRangeHeader,
  parseRangeHeader,
  unsatisfiedRangeHeader,
} from 'src/attachments/storage/http-range';

export interface SendOptions {
  /** What the link asked for; anything but a raster image is always sent as `attachment`. */
  disposition: SignedUrlDisposition;
  cacheControl: string;
}

export interface SendResult {
  status: number;
  /** Body bytes written (what reached the socket, even when the client left early). */
  bytes: number;
}

const TEXTUAL = /^(text\/|application\/json$)/;

export async function sendAttachment(
  req: Request,
  res: Response,
  record: AttachmentRecord,
  /** Opens the stored bytes, whole or one inclusive range. */
  open: (range?: ByteRange) => Promise<Readable>,
  opts: SendOptions,
): Promise<SendResult> {
  const etag = `"${record.sha256 ?? record.id}"`;
  const disposition =
    opts.disposition === 'inline' && isInlineSafe(record.mimeType) ? 'inline' : 'attachment';
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', opts.cacheControl);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  res.setHeader('Accept-Ranges', 'bytes');

  if (matchesEtag(req.headers['if-none-match'], etag)) {
    res.status(304).end();
    return { status: 304, bytes: 0 };
  }

  let range: ByteRange | null = null;
  const ifRange = req.headers['if-range'];
  if (ifRange === undefined || ifRange === etag) {
    const parsed = parseRangeHeader(req.headers.range, record.size);
    if (parsed === 'unsatisfiable') {
      res.setHeader('Content-Range', unsatisfiedRangeHeader(record.size));
      res.status(416).end();
      return { status: 416, bytes: 0 };
    }
    range = parsed;
  }

  // Opened before any header is sent, so a missing object still gets a proper error answer.
  const body = req.method === 'HEAD' ? null : await open(range ?? undefined);

  const mime = TEXTUAL.test(record.mimeType) ? `${record.mimeType}; charset=utf-8` : record.mimeType;
  res.setHeader('Content-Type', mime);
  res.setHeader('Content-Disposition', contentDisposition(disposition, record.name));
  const status = range ? 206 : 200;
  if (range) res.setHeader('Content-Range', contentRangeHeader(range, record.size));
  res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : record.size));
  res.status(status);
  if (!body) {
    res.end();
    return { status, bytes: 0 };
  }
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    await pipeline(body, counter, res);
  } catch {
    // The client went away mid-download (or storage failed after the headers were out); the
    // connection is already closed, nothing more can be said to it.
    if (!res.destroyed) res.destroy();
  }
  return { status, bytes };
}

/** RFC 6266 with an ASCII fallback and the exact name in `filename*`. */
export function contentDisposition(type: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${type}; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

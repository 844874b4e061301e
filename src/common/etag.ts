/**
 * Express's default ETag (`etag: 'weak'`), the same bytes computed with one call: Express builds
 * a SHA-1 Hash object per response for it, which showed in the CPU profile of small JSON answers.
 * Kept rather than turned off, because GET routes answer `304 Not Modified` with it.
 */
import { hash } from 'node:crypto';

/** The tag of an empty body, as Express (its `etag` package) writes it. */
const EMPTY = 'W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"';

export function weakEtag(body: string | Buffer, encoding?: BufferEncoding): string {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, encoding);
  if (bytes.length === 0) return EMPTY;
  return `W/"${bytes.length.toString(16)}-${hash('sha1', bytes, 'base64').substring(0, 27)}"`;
}

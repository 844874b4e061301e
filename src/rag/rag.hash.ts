/**
 * Content addressing for the knowledge base: a document's hash lets re-uploads of the same bytes
 * be recognised, and a chunk's hash lets re-ingestion keep embeddings of chunks that did not
 * change. Pure functions only; this module must never touch the database or the network.
 */
import { createHash } from 'node:crypto';

/** SHA-256 of the raw bytes (or of the UTF-8 encoding of a string), lowercase hex. */
export function contentHash(input: Buffer | Uint8Array | string): string {
  return createHash('sha256').update(input).digest('hex');
}

/**
 * Hash of what an embedding depends on: the heading path and the text. Two chunks with the same
 * hash can share one embedding. A unit separator keeps `["a b"], "c"` apart from `["a"], "b c"`.
 */
export function chunkHash(chunk: { headingPath: readonly string[]; text: string }): string {
  return contentHash([...chunk.headingPath, chunk.text].join('\u001f'));
}

/**
 * A stable UUID for chunk `index` of the document whose content hash is `documentHash`, so that
 * re-running an ingestion upserts the same rows instead of inserting duplicates. Laid out as an
 * RFC 9562 version-8 (custom) UUID so PostgreSQL's `uuid` type and validators accept it.
 */
export function chunkId(documentHash: string, index: number): string {
  if (!Number.isInteger(index) || index < 0)
    throw new RangeError(`chunk index must be a non-negative integer, got ${index}`);
  const bytes = createHash('sha256').update(`${documentHash}:${index}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x80;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

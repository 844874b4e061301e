/**
 * Reads an HTTP `Range` request header (RFC 9110 §14) for one representation of known size. Only a
 * single byte range is honoured; anything else — other units, several ranges, bad syntax — means
 * "send the whole body", which the RFC allows. It must never return a range outside the body.
 */
import type { ByteRange } from 'src/attachments/storage/attachment-storage';

export type RangeResult = ByteRange | 'unsatisfiable' | null;

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * `null`: ignore the header and answer 200 with the full body.
 * `'unsatisfiable'`: answer 416 with the `Content-Range` from `unsatisfiedRangeHeader`.
 * A range: answer 206 with bytes `start..end` inclusive.
 */
export function parseRangeHeader(header: string | string[] | undefined, size: number): RangeResult {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('size must be a non-negative integer');
  if (header === undefined || Array.isArray(header)) return null;
  const match = SINGLE_RANGE.exec(header.trim());
  if (!match) return null;
  const [, first, last] = match;

  if (first === '' && last === '') return null;

  if (first === '') {
    // Suffix range: the last n bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }

  const start = Number(first);
  if (last !== '') {
    const end = Number(last);
    // last < first is a syntactically invalid range: the RFC says to ignore the header.
    if (end < start) return null;
  }
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { start, end };
}

/** `Content-Range` value for a 206 answer. */
export function contentRangeHeader(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** `Content-Range` value for a 416 answer. */
export function unsatisfiedRangeHeader(size: number): string {
  return `bytes */${size}`;
}

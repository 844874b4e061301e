/**
 * The names an attachment goes by: the display name shown to users, cleaned from whatever the
 * client sent, and the storage keys its bytes live under. Pure functions, shared by intake,
 * downloads and cleanup. A key made here must never name anything but the one attachment (and,
 * for an upload key, the one upload) it was made for.
 */
import { randomBytes } from 'node:crypto';

const MAX_NAME_LENGTH = 255;
const UPLOAD_KEY_SUFFIX_BYTES = 6;

/** Storage keys spread over 256 directories by the random end of the id. */
export function storageKeyFor(id: string): string {
  return `${id.slice(-2)}/${id}`;
}

/**
 * The key of one upload to a two-phase upload URL: the attachment's key plus a random suffix, so
 * that two uploads of one attachment never write, or delete, the same object.
 */
export function uploadKeyFor(id: string): string {
  return `${storageKeyFor(id)}.${randomBytes(UPLOAD_KEY_SUFFIX_BYTES).toString('hex')}`;
}

/** The id a storage key was made for, or null for keys that are not ours. */
export function idFromStorageKey(key: string): string | null {
  const match = /^[0-9a-f]{2}\/(atc_[0-9a-f]{28})(?:\.[0-9a-f]{12})?$/.exec(key);
  return match && match[1].endsWith(key.slice(0, 2)) ? match[1] : null;
}

/**
 * A display name: no path, no control characters (C0, DEL, C1) and no bidirectional formatting
 * (U+202E can make "txt.exe" read as "exe.txt"), lone surrogates replaced by U+FFFD (they cannot
 * be encoded in a header or in UTF-8), NFC, bounded length. Names are cleaned, never refused: a
 * file should not be turned away for what its name's bytes look like.
 */
export function cleanName(name: string): string {
  const bare = name.replace(LONE_SURROGATE, '\uFFFD').replace(UNWANTED_NAME_CHARACTERS, '').normalize('NFC');
  const base = (bare.split(/[\\/]/).pop() ?? '').trim();
  return truncate(base || 'file', MAX_NAME_LENGTH);
}

// eslint-disable-next-line no-control-regex
const UNWANTED_NAME_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** At most `max` UTF-16 units, never cutting a surrogate pair in two. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

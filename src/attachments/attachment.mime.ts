/**
 * Which file types users may attach, what type the bytes really are, and which types a browser may
 * render inline. The declared MIME type comes from the client and is never trusted on its own: the
 * first bytes decide. Nothing here may let markup (HTML, SVG) be served inline, and a file whose
 * bytes are of a different kind than declared is refused rather than silently relabelled (the one
 * exception: one raster image format mislabelled as another).
 */
import { fromBuffer as detectFileType } from 'file-type';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const PPTX = 'application/vnd.openxmlformats-officedocument.presentationml.presentation';
const DOC = 'application/msword';
const XLS = 'application/vnd.ms-excel';
const PPT = 'application/vnd.ms-powerpoint';

export const DEFAULT_ALLOWED_MIME_TYPES: readonly string[] = Object.freeze([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
  'text/markdown',
  'text/csv',
  'application/json',
  DOCX,
  XLSX,
  PPTX,
  DOC,
  XLS,
  PPT,
]);

/** How many leading bytes callers should pass to `sniffMimeType`. */
export const SNIFF_HEAD_BYTES = 64 * 1024;

// Types without magic bytes: recognised by being clean UTF-8 text.
const TEXT_TYPES = new Set(['text/plain', 'text/markdown', 'text/csv', 'application/json']);
// Text formats file-type can name from their first characters; still just text to us.
const TEXTUAL_DETECTIONS = new Set(['application/xml', 'text/calendar', 'text/vcard']);
// Formats whose bytes are plain ASCII yet are documents, not text.
const ASCII_DOCUMENT_SIGNATURES = new Set(['application/pdf', 'application/postscript']);
const OOXML_TYPES = new Set([DOCX, XLSX, PPTX]);
const LEGACY_OFFICE_TYPES = new Set([DOC, XLS, PPT]);
const INLINE_SAFE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/x-png': 'image/png',
  'text/x-markdown': 'text/markdown',
  'text/json': 'application/json',
  'application/csv': 'text/csv',
  'text/comma-separated-values': 'text/csv',
};

const EXTENSION_TYPES: Record<string, string> = {
  txt: 'text/plain',
  text: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  csv: 'text/csv',
  json: 'application/json',
  docx: DOCX,
  xlsx: XLSX,
  pptx: PPTX,
  doc: DOC,
  xls: XLS,
  ppt: PPT,
};

/** Lower-cased, parameters (`; charset=…`) dropped, common aliases mapped to their standard name. */
export function normalizeMimeType(mime: string | undefined | null): string {
  if (!mime) return '';
  const bare = mime.split(';', 1)[0].trim().toLowerCase();
  return ALIASES[bare] ?? bare;
}

/** The type a file name's extension suggests, if we know it. */
export function mimeTypeFromFilename(filename: string): string | undefined {
  const dot = filename.lastIndexOf('.');
  if (dot < 0) return undefined;
  return EXTENSION_TYPES[filename.slice(dot + 1).toLowerCase()];
}

/**
 * The real type of a file judged from its first bytes (pass at least `SNIFF_HEAD_BYTES`, or the
 * whole file if shorter). Where the bytes only identify a container — a ZIP for Office Open XML, a
 * compound file for legacy Office, plain text for text formats — the declared type (else the file
 * name) picks the member of that family. `null`: the bytes are binary and match nothing we know.
 */
export async function sniffMimeType(
  head: Buffer,
  declared: string,
  filename: string,
): Promise<string | null> {
  const declaredType = normalizeMimeType(declared);
  const hinted = mimeTypeFromFilename(filename);
  const detected = await detectMagic(head);
  const text = isUtf8Text(head);
  const textType = pickFamilyMember(TEXT_TYPES, declaredType, hinted);

  if (detected && !TEXTUAL_DETECTIONS.has(detected)) {
    // Many signatures are two or three ASCII letters ("BM", "MZ", "ID3") that also open ordinary
    // sentences. For a file declared as text, clean UTF-8 outweighs such a match; only signatures
    // no real text starts with keep their say.
    const textWins = text && textType !== undefined && !ASCII_DOCUMENT_SIGNATURES.has(detected);
    if (!textWins) {
      if (detected === 'application/zip') {
        // A head that ends before the part naming the document type reads as a generic ZIP.
        return pickFamilyMember(OOXML_TYPES, declaredType, hinted) ?? detected;
      }
      if (detected === 'application/x-cfb') {
        return pickFamilyMember(LEGACY_OFFICE_TYPES, declaredType, hinted) ?? detected;
      }
      return detected;
    }
  }

  if (!text) return detected ?? null;
  return textType ?? 'text/plain';
}

export type TypeCheckResult =
  { ok: true; mimeType: string } | { ok: false; reason: 'type_not_allowed' | 'type_mismatch' };

/**
 * Decides whether a file may be stored. `mimeType` in the answer is the type to store and serve:
 * the declared one, except when a raster image was mislabelled as another raster format.
 * `allowed` entries may be exact types or `type/*`.
 */
export function checkType(
  declared: string,
  sniffed: string | null,
  allowed: Iterable<string> = DEFAULT_ALLOWED_MIME_TYPES,
): TypeCheckResult {
  const declaredType = normalizeMimeType(declared);
  const allowList = [...allowed].map(normalizeMimeType);
  if (!isAllowed(declaredType, allowList)) return { ok: false, reason: 'type_not_allowed' };
  if (sniffed === null) return { ok: false, reason: 'type_mismatch' };
  const real = normalizeMimeType(sniffed);
  if (real === declaredType) return { ok: true, mimeType: declaredType };
  // Text cannot be told apart by its bytes: any text declaration of text bytes stands.
  if (TEXT_TYPES.has(declaredType) && TEXT_TYPES.has(real)) return { ok: true, mimeType: declaredType };
  // Phones and browsers often name a JPEG ".png"; storing the real type is safe and more useful.
  if (INLINE_SAFE.has(declaredType) && INLINE_SAFE.has(real) && isAllowed(real, allowList)) {
    return { ok: true, mimeType: real };
  }
  return { ok: false, reason: 'type_mismatch' };
}

/** Whether a declared type is on the allow-list (`allowed` entries may be `type/*`). */
export function isAllowedType(mime: string, allowed: Iterable<string> = DEFAULT_ALLOWED_MIME_TYPES): boolean {
  return isAllowed(normalizeMimeType(mime), [...allowed].map(normalizeMimeType));
}

/** Only raster images may be shown inline; anything else is served as a download. */
export function isInlineSafe(mime: string): boolean {
  return INLINE_SAFE.has(normalizeMimeType(mime));
}

/** ChatKit renders `{type:"image"}` attachments with a preview; everything else is a file. */
export function attachmentKindFor(mime: string): 'image' | 'file' {
  return isInlineSafe(mime) ? 'image' : 'file';
}

async function detectMagic(head: Buffer): Promise<string | undefined> {
  if (head.length === 0) return undefined;
  try {
    return (await detectFileType(head))?.mime;
  } catch {
    // file-type throws when a signature promises a header longer than the bytes we have
    // ("ID3", "OggS" at the start of a short text): no verdict rather than a failed upload.
    return undefined;
  }
}

function pickFamilyMember(
  family: ReadonlySet<string>,
  declared: string,
  hinted: string | undefined,
): string | undefined {
  if (family.has(declared)) return declared;
  if (hinted !== undefined && family.has(hinted)) return hinted;
  return undefined;
}

function isAllowed(mime: string, allowList: readonly string[]): boolean {
  if (mime === '') return false;
  return allowList.some((entry) =>
    entry.endsWith('/*')
      ? mime.startsWith(entry.slice(0, -1)) && mime.length > entry.length - 1
      : entry === mime,
  );
}

/**
 * Valid UTF-8 without NUL bytes. The head may cut a multi-byte character at its end; the streaming
 * decoder holds such a tail back instead of calling it invalid.
 */
function isUtf8Text(head: Buffer): boolean {
  if (head.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}

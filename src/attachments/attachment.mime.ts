/**
 * Which file types users may attach, what type the bytes really are, and which types a browser may
 * render inline. The declared MIME type comes from the client and is never trusted on its own: the
 * first bytes decide. Nothing here may let markup (HTML, SVG) be served inline, and a file whose
 * bytes are of a different kind than declared is refused rather than silently relabelled (the one
 * exception: one raster image format mislabelled as another). An Office file is also judged by
 * what its container holds, read from the whole file without inflating anything.
 */
import { unzipSync } from 'fflate';
import { fromBuffer as detectFileType } from 'file-type';
import {
  DEFAULT_ALLOWED_MIME_TYPES,
  DOC,
  DOCX,
  PPT,
  PPTX,
  XLS,
  XLSX,
  normalizeMimeType,
} from 'src/config/attachment-types';

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

const EXTENSION_TYPES = new Map<string, string>(
  Object.entries({
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
  }),
);

/** The type a file name's extension suggests, if we know it. */
export function mimeTypeFromFilename(filename: string): string | undefined {
  const dot = filename.lastIndexOf('.');
  if (dot < 0) return undefined;
  return EXTENSION_TYPES.get(filename.slice(dot + 1).toLowerCase());
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

// What a container must hold to be the Office document it claims to be: ZIP entry names (all of
// them) for Office Open XML, root stream names (any of them) for the legacy compound files.
const OOXML_PARTS = new Map<string, readonly string[]>(
  Object.entries({
    [DOCX]: ['[Content_Types].xml', 'word/document.xml'],
    [XLSX]: ['[Content_Types].xml', 'xl/workbook.xml'],
    [PPTX]: ['[Content_Types].xml', 'ppt/presentation.xml'],
  }),
);
const LEGACY_STREAMS = new Map<string, readonly string[]>(
  Object.entries({
    [DOC]: ['WordDocument'],
    [XLS]: ['Workbook', 'Book'],
    [PPT]: ['PowerPoint Document'],
  }),
);
/** More entries than any real document has; a directory claiming more is not read to its end. */
const MAX_CONTAINER_ENTRIES = 20_000;

/** Whether files of this type are judged by their container's contents too (`hasOfficeContent`). */
export function needsContainerCheck(mime: string): boolean {
  const type = normalizeMimeType(mime);
  return OOXML_PARTS.has(type) || LEGACY_STREAMS.has(type);
}

/**
 * Whether the whole file `bytes` is the Office document `mime` says: a ZIP holding the parts of
 * that document, or a compound file with its main stream. Only the directory is read (the ZIP's
 * central directory, the compound file's directory sectors): nothing is inflated, so a ZIP bomb
 * costs no more than its own size. Types that need no such check answer true.
 */
export function hasOfficeContent(mime: string, bytes: Uint8Array): boolean {
  const type = normalizeMimeType(mime);
  const parts = OOXML_PARTS.get(type);
  if (parts) {
    const names = zipEntryNames(bytes);
    return names !== null && parts.every((part) => names.has(part));
  }
  const streams = LEGACY_STREAMS.get(type);
  if (streams) {
    const names = compoundFileRootStreams(bytes);
    return names !== null && streams.some((stream) => names.has(stream));
  }
  return true;
}

const STOP = Symbol('stop');

/** The entry names of a ZIP's central directory; null when it is not a readable ZIP. */
function zipEntryNames(bytes: Uint8Array): Set<string> | null {
  const names = new Set<string>();
  try {
    unzipSync(bytes, {
      filter: (entry) => {
        // The entry count comes from the file; a forged one must not keep us reading.
        if (names.size >= MAX_CONTAINER_ENTRIES) throw STOP;
        names.add(entry.name);
        return false;
      },
    });
  } catch (err) {
    if (err !== STOP) return null;
  }
  return names;
}

const CFB_MAGIC = Buffer.from('d0cf11e0a1b11ae1', 'hex');
const CFB_END_OF_CHAIN = 0xfffffffe;
const CFB_NO_STREAM = 0xffffffff;
const CFB_STREAM = 2;
const CFB_DIR_ENTRY = 128;

/**
 * The names of the streams at the root of a compound file ([MS-CFB]); null when it is not a
 * readable one. Read by hand rather than with a full parser, which would copy every small stream
 * out of the file: a forged directory of many entries could make that many times the file's size.
 * Every chain and tree walk is bounded by the file's own sector count and never revisits a node.
 */
function compoundFileRootStreams(bytes: Uint8Array): Set<string> | null {
  const file = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (file.length < 512 || !file.subarray(0, 8).equals(CFB_MAGIC)) return null;
  const shift = file.readUInt16LE(0x1e);
  if (shift !== 9 && shift !== 12) return null;
  const sectorSize = 1 << shift;
  // Sector 0 starts right after the header, which takes one sector's room; the last may be short.
  const sectorCount = Math.max(0, Math.ceil((file.length - sectorSize) / sectorSize));
  const sector = (n: number): Buffer | null => {
    if (n >= sectorCount) return null;
    const start = (n + 1) * sectorSize;
    return file.subarray(start, Math.min(start + sectorSize, file.length));
  };

  // The FAT sectors: 109 listed in the header, the rest in a chain of DIFAT sectors.
  const fatSectors: number[] = [];
  for (let i = 0; i < 109; i++) fatSectors.push(file.readUInt32LE(0x4c + i * 4));
  const seenDifat = new Set<number>();
  for (let next = file.readUInt32LE(0x44); next < CFB_END_OF_CHAIN;) {
    const difat = sector(next);
    if (!difat || seenDifat.has(next) || difat.length < sectorSize) return null;
    seenDifat.add(next);
    for (let i = 0; i < sectorSize / 4 - 1; i++) fatSectors.push(difat.readUInt32LE(i * 4));
    next = difat.readUInt32LE(sectorSize - 4);
  }
  const nextSector = (n: number): number | null => {
    const perSector = sectorSize / 4;
    const fat = sector(fatSectors[Math.floor(n / perSector)] ?? CFB_NO_STREAM);
    const at = (n % perSector) * 4;
    return fat && at + 4 <= fat.length ? fat.readUInt32LE(at) : null;
  };

  // The directory: a chain of sectors of 128-byte entries.
  const directory: Buffer[] = [];
  const seenDir = new Set<number>();
  for (let n = file.readUInt32LE(0x30); n !== CFB_END_OF_CHAIN;) {
    const dir = sector(n);
    if (!dir || seenDir.has(n)) return null;
    seenDir.add(n);
    directory.push(dir);
    const next = nextSector(n);
    if (next === null) return null;
    n = next;
  }
  const entries = Buffer.concat(directory);
  const entry = (id: number): Buffer | null =>
    (id + 1) * CFB_DIR_ENTRY <= entries.length
      ? entries.subarray(id * CFB_DIR_ENTRY, (id + 1) * CFB_DIR_ENTRY)
      : null;

  // The root's children form a tree through their left and right sibling links.
  const root = entry(0);
  if (!root || root[0x42] !== 5) return null;
  const names = new Set<string>();
  const seen = new Set<number>();
  const pending = [root.readUInt32LE(0x4c)];
  while (pending.length) {
    const id = pending.pop()!;
    if (id === CFB_NO_STREAM || seen.has(id)) continue;
    if (seen.size >= MAX_CONTAINER_ENTRIES) break;
    seen.add(id);
    const e = entry(id);
    if (!e) return null;
    const nameBytes = Math.min(e.readUInt16LE(0x40), 64);
    if (e[0x42] === CFB_STREAM && nameBytes >= 2) {
      names.add(e.subarray(0, nameBytes - 2).toString('utf16le'));
    }
    pending.push(e.readUInt32LE(0x44), e.readUInt32LE(0x48));
  }
  return names;
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

import * as CFB from 'cfb';
import { strToU8, zipSync } from 'fflate';
import { crc32 } from 'node:zlib';
import { PDFDocument } from 'pdf-lib';
import {
  attachmentKindFor,
  checkType,
  hasOfficeContent,
  needsContainerCheck,
  isInlineSafe,
  mimeTypeFromFilename,
  sniffMimeType,
} from 'src/attachments/attachment.mime';
import { DEFAULT_ALLOWED_MIME_TYPES, normalizeMimeType } from 'src/config/attachment-types';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

function pngBytes(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0); // width
  ihdr.writeUInt32BE(1, 4); // height
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function jpegBytes(): Buffer {
  // SOI, then an APP0/JFIF segment, then EOI.
  const app0 = Buffer.from([
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
    0x00,
  ]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, Buffer.from([0xff, 0xd9])]);
}

async function pdfBytes(): Promise<Buffer> {
  const doc = await PDFDocument.create();
  doc.addPage([200, 200]).drawText('hello');
  return Buffer.from(await doc.save());
}

function exeBytes(): Buffer {
  const buf = Buffer.alloc(256);
  buf.write('MZ', 0, 'latin1');
  buf.writeUInt32LE(0x80, 0x3c);
  buf.write('PE\0\0', 0x80, 'latin1');
  return buf;
}

/** A stored (uncompressed) ZIP with local headers, central directory and end record. */
function zipBytes(entries: Array<[string, string]>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of entries) {
    const nameBuf = Buffer.from(name, 'utf8');
    const data = Buffer.from(text, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    locals.push(local, nameBuf, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDir, end]);
}

function docxBytes(): Buffer {
  return zipBytes([
    [
      '[Content_Types].xml',
      '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
    ],
    ['_rels/.rels', '<?xml version="1.0"?><Relationships/>'],
    ['word/document.xml', '<?xml version="1.0"?><w:document/>'],
  ]);
}

function cfbBytes(): Buffer {
  const buf = Buffer.alloc(512);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(buf);
  buf.writeUInt16LE(0x003e, 24); // minor version
  buf.writeUInt16LE(0x0003, 26); // major version 3
  buf.writeUInt16LE(0xfffe, 28); // little-endian byte order mark
  buf.writeUInt16LE(0x0009, 30); // 512-byte sectors
  return buf;
}

async function verdict(bytes: Buffer, declared: string, filename: string) {
  const sniffed = await sniffMimeType(bytes, declared, filename);
  return { sniffed, check: checkType(declared, sniffed, DEFAULT_ALLOWED_MIME_TYPES) };
}

describe('sniffMimeType + checkType', () => {
  it('accepts real images, PDFs and Office files declared as what they are', async () => {
    expect(await verdict(pngBytes(), 'image/png', 'a.png')).toEqual({
      sniffed: 'image/png',
      check: { ok: true, mimeType: 'image/png' },
    });
    expect((await verdict(jpegBytes(), 'image/jpeg', 'a.jpg')).check).toEqual({
      ok: true,
      mimeType: 'image/jpeg',
    });
    expect((await verdict(await pdfBytes(), 'application/pdf', 'a.pdf')).check).toEqual({
      ok: true,
      mimeType: 'application/pdf',
    });
    expect(await verdict(docxBytes(), DOCX, 'a.docx')).toEqual({
      sniffed: DOCX,
      check: { ok: true, mimeType: DOCX },
    });
    expect((await verdict(cfbBytes(), 'application/msword', 'a.doc')).check).toEqual({
      ok: true,
      mimeType: 'application/msword',
    });
  });

  it('normalises aliases and parameters in the declared type', async () => {
    expect((await verdict(jpegBytes(), 'IMAGE/JPG', 'a.jpg')).check).toEqual({
      ok: true,
      mimeType: 'image/jpeg',
    });
    expect(normalizeMimeType('text/plain; charset=UTF-8')).toBe('text/plain');
  });

  it('refuses a "PNG" whose bytes are a PDF or an executable', async () => {
    expect(await verdict(await pdfBytes(), 'image/png', 'cat.png')).toEqual({
      sniffed: 'application/pdf',
      check: { ok: false, reason: 'type_mismatch' },
    });
    expect(await verdict(exeBytes(), 'image/png', 'cat.png')).toEqual({
      sniffed: 'application/x-msdownload',
      check: { ok: false, reason: 'type_mismatch' },
    });
    expect((await verdict(exeBytes(), 'application/pdf', 'report.pdf')).check).toEqual({
      ok: false,
      reason: 'type_mismatch',
    });
  });

  it('stores the real type when one raster format is labelled as another', async () => {
    expect(await verdict(jpegBytes(), 'image/png', 'photo.png')).toEqual({
      sniffed: 'image/jpeg',
      check: { ok: true, mimeType: 'image/jpeg' },
    });
  });

  it('refuses binary content declared as text and text declared as binary', async () => {
    expect((await verdict(pngBytes(), 'text/plain', 'notes.txt')).check).toEqual({
      ok: false,
      reason: 'type_mismatch',
    });
    expect((await verdict(await pdfBytes(), 'text/csv', 'data.csv')).check).toEqual({
      ok: false,
      reason: 'type_mismatch',
    });
    expect(await verdict(Buffer.from('just words'), 'image/png', 'x.png')).toEqual({
      sniffed: 'text/plain',
      check: { ok: false, reason: 'type_mismatch' },
    });
    expect((await verdict(Buffer.from('{"a":1}'), 'application/pdf', 'x.pdf')).check).toEqual({
      ok: false,
      reason: 'type_mismatch',
    });
  });

  it('accepts clean UTF-8 for every text type, keeping the declared one', async () => {
    const text = Buffer.from('# Überschrift\n\nnaïve café — ✓ 日本語\n');
    expect(await verdict(text, 'text/markdown', 'README.md')).toEqual({
      sniffed: 'text/markdown',
      check: { ok: true, mimeType: 'text/markdown' },
    });
    expect((await verdict(Buffer.from('a,b\n1,2\n'), 'text/csv', 'x.csv')).check).toEqual({
      ok: true,
      mimeType: 'text/csv',
    });
    expect((await verdict(Buffer.from('{"k": [1, 2]}'), 'application/json', 'x.json')).check).toEqual({
      ok: true,
      mimeType: 'application/json',
    });
    // Text that opens like XML is still just text to us.
    expect((await verdict(Buffer.from('<?xml version="1.0"?><a/>'), 'text/plain', 'x.txt')).check).toEqual({
      ok: true,
      mimeType: 'text/plain',
    });
    expect((await verdict(Buffer.alloc(0), 'text/plain', 'empty.txt')).check).toEqual({
      ok: true,
      mimeType: 'text/plain',
    });
  });

  it('does not let short ASCII signatures turn ordinary text into binary formats', async () => {
    for (const line of [
      'BMW is a car maker',
      'ID3 tags',
      'OggS',
      'MZ notes',
      'fLaC is a codec',
      'ID3 tags are metadata for mp3 files, long enough to parse',
    ]) {
      expect((await verdict(Buffer.from(line), 'text/plain', 'x.txt')).check).toEqual({
        ok: true,
        mimeType: 'text/plain',
      });
    }
    // The same bytes claimed to be an image are still no image.
    expect((await verdict(Buffer.from('BMW is a car maker'), 'image/png', 'x.png')).check).toEqual({
      ok: false,
      reason: 'type_mismatch',
    });
  });

  it('keeps an all-ASCII PDF a PDF even when declared as text', async () => {
    const asciiPdf = Buffer.from(
      '%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n',
    );
    expect(await verdict(asciiPdf, 'text/plain', 'x.txt')).toEqual({
      sniffed: 'application/pdf',
      check: { ok: false, reason: 'type_mismatch' },
    });
  });

  it('uses the file name when the declared type is generic', async () => {
    expect(await sniffMimeType(Buffer.from('| a | b |'), 'application/octet-stream', 'table.md')).toBe(
      'text/markdown',
    );
    expect(await sniffMimeType(docxBytes(), 'application/octet-stream', 'letter.docx')).toBe(DOCX);
  });

  it('tolerates a multi-byte character cut off at the end of the head', async () => {
    const full = Buffer.from('price: 5€');
    const cut = full.subarray(0, full.length - 1);
    expect(await sniffMimeType(cut, 'text/plain', 'x.txt')).toBe('text/plain');
  });

  it('rejects invalid UTF-8 and NUL bytes as text', async () => {
    const invalid = Buffer.from([0x68, 0x69, 0xc3, 0x28, 0x21]);
    expect(await sniffMimeType(invalid, 'text/plain', 'x.txt')).toBeNull();
    expect((await verdict(invalid, 'text/plain', 'x.txt')).check).toEqual({
      ok: false,
      reason: 'type_mismatch',
    });
    const withNul = Buffer.from('abc\0def');
    expect(await sniffMimeType(withNul, 'text/plain', 'x.txt')).toBeNull();
    // UTF-16 text is full of NULs: refused, not misread as text (file-type may even call it audio).
    const utf16 = Buffer.from('\ufeffhello world', 'utf16le');
    expect((await verdict(utf16, 'text/plain', 'x.txt')).check).toEqual({
      ok: false,
      reason: 'type_mismatch',
    });
    expect(await sniffMimeType(Buffer.from('hello world', 'utf16le'), 'text/plain', 'x.txt')).toBeNull();
  });

  it('names a ZIP-based Office file from its container when the head ends before the telling part', async () => {
    const onlyContentTypes = zipBytes([['[Content_Types].xml', '<Types/>']]);
    expect(await sniffMimeType(onlyContentTypes, XLSX, 'sheet.xlsx')).toBe(XLSX);
    expect((await verdict(onlyContentTypes, XLSX, 'sheet.xlsx')).check).toEqual({ ok: true, mimeType: XLSX });
    // Without an Office declaration a ZIP stays a ZIP, which is not allowed.
    expect(await verdict(onlyContentTypes, 'application/zip', 'a.zip')).toEqual({
      sniffed: 'application/zip',
      check: { ok: false, reason: 'type_not_allowed' },
    });
  });

  it('refuses a Word document declared as a spreadsheet and a compound file declared as PDF', async () => {
    expect(await verdict(docxBytes(), XLSX, 'sheet.xlsx')).toEqual({
      sniffed: DOCX,
      check: { ok: false, reason: 'type_mismatch' },
    });
    expect(await verdict(cfbBytes(), 'application/pdf', 'x.pdf')).toEqual({
      sniffed: 'application/x-cfb',
      check: { ok: false, reason: 'type_mismatch' },
    });
  });

  it('refuses types outside the allow-list before looking at the bytes', () => {
    expect(checkType('image/svg+xml', 'text/plain')).toEqual({ ok: false, reason: 'type_not_allowed' });
    expect(checkType('text/html', 'text/plain')).toEqual({ ok: false, reason: 'type_not_allowed' });
    expect(checkType('', 'text/plain')).toEqual({ ok: false, reason: 'type_not_allowed' });
    expect(checkType('image/png', 'image/png', ['application/pdf'])).toEqual({
      ok: false,
      reason: 'type_not_allowed',
    });
  });

  it('accepts type/* entries in the allow-list', () => {
    expect(checkType('image/avif', 'image/avif', ['image/*'])).toEqual({ ok: true, mimeType: 'image/avif' });
    expect(checkType('application/pdf', 'application/pdf', ['image/*'])).toEqual({
      ok: false,
      reason: 'type_not_allowed',
    });
  });

  it('does not relabel an image to a raster type the allow-list forbids', () => {
    expect(checkType('image/png', 'image/gif', ['image/png'])).toEqual({
      ok: false,
      reason: 'type_mismatch',
    });
  });
});

describe('isInlineSafe', () => {
  it('allows only raster images inline', () => {
    for (const mime of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'IMAGE/PNG; foo=bar']) {
      expect(isInlineSafe(mime)).toBe(true);
    }
    for (const mime of [
      'image/svg+xml',
      'text/html',
      'application/xhtml+xml',
      'application/pdf',
      'text/plain',
      '',
    ]) {
      expect(isInlineSafe(mime)).toBe(false);
    }
    expect(attachmentKindFor('image/webp')).toBe('image');
    expect(attachmentKindFor('image/svg+xml')).toBe('file');
  });
});

describe('hasOfficeContent', () => {
  const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
  const PPTX_TYPE = 'application/vnd.openxmlformats-officedocument.presentationml.presentation';
  const zip = (names: string[]) => zipSync(Object.fromEntries(names.map((n) => [n, strToU8(`<${n}/>`)])));
  const compound = (streams: string[], size = 64) => {
    const container = CFB.utils.cfb_new();
    for (const name of streams) CFB.utils.cfb_add(container, name, Buffer.alloc(size, 1));
    return CFB.write(container, { type: 'buffer' }) as Buffer;
  };

  it('applies to the Office types only', () => {
    for (const mime of [DOCX, XLSX_TYPE, PPTX_TYPE, 'application/msword', 'application/vnd.ms-excel']) {
      expect(needsContainerCheck(mime)).toBe(true);
    }
    expect(needsContainerCheck('application/vnd.ms-powerpoint; foo=1')).toBe(true);
    for (const mime of ['application/zip', 'application/pdf', 'text/plain', 'image/png']) {
      expect(needsContainerCheck(mime)).toBe(false);
      expect(hasOfficeContent(mime, Buffer.from('anything'))).toBe(true);
    }
  });

  it('wants the content types and the main part of each Office Open XML document', () => {
    expect(hasOfficeContent(DOCX, zip(['[Content_Types].xml', 'word/document.xml']))).toBe(true);
    expect(hasOfficeContent(XLSX_TYPE, zip(['[Content_Types].xml', 'xl/workbook.xml']))).toBe(true);
    expect(hasOfficeContent(PPTX_TYPE, zip(['[Content_Types].xml', 'ppt/presentation.xml']))).toBe(true);
    expect(hasOfficeContent(DOCX, zip(['readme.txt']))).toBe(false);
    expect(hasOfficeContent(DOCX, zip(['word/document.xml']))).toBe(false);
    expect(hasOfficeContent(DOCX, zip(['[Content_Types].xml', 'xl/workbook.xml']))).toBe(false);
    expect(hasOfficeContent(XLSX_TYPE, zip(['[Content_Types].xml', 'word/document.xml']))).toBe(false);
    expect(hasOfficeContent(DOCX, Buffer.from('PK\x03\x04 but nothing else'))).toBe(false);
    expect(hasOfficeContent(DOCX, Buffer.alloc(0))).toBe(false);
  });

  it('reads only the names: an entry whose compressed data is garbage does not matter', () => {
    // Deflated zeros: the kind of entry a ZIP bomb is made of. Corrupting its data proves it was never inflated.
    const bytes = zipSync({
      '[Content_Types].xml': strToU8('<Types/>'),
      'word/document.xml': new Uint8Array(4 * 1024 * 1024),
    });
    const documentHeader = Buffer.from(bytes).indexOf('word/document.xml');
    const corrupted = Buffer.from(bytes);
    for (let i = documentHeader + 20; i < documentHeader + 40; i++) corrupted[i] = 0xff;
    expect(bytes.length).toBeLessThan(64 * 1024);
    expect(hasOfficeContent(DOCX, corrupted)).toBe(true);
  });

  it('wants the main stream of each legacy Office document at the root of the compound file', () => {
    expect(hasOfficeContent('application/msword', compound(['/WordDocument', '/1Table']))).toBe(true);
    expect(hasOfficeContent('application/vnd.ms-excel', compound(['/Workbook']))).toBe(true);
    expect(hasOfficeContent('application/vnd.ms-excel', compound(['/Book']))).toBe(true);
    expect(hasOfficeContent('application/vnd.ms-powerpoint', compound(['/PowerPoint Document']))).toBe(true);
    // Streams large enough to live in the regular FAT read the same.
    expect(hasOfficeContent('application/msword', compound(['/WordDocument'], 20_000))).toBe(true);
    expect(hasOfficeContent('application/msword', compound(['/Contents']))).toBe(false);
    expect(hasOfficeContent('application/msword', compound(['/Workbook']))).toBe(false);
    // Nested inside a storage is not the document's own stream.
    expect(hasOfficeContent('application/msword', compound(['/Embedded/WordDocument']))).toBe(false);
    expect(hasOfficeContent('application/msword', zip(['WordDocument']))).toBe(false);
    const truncated = compound(['/WordDocument']).subarray(0, 600);
    expect(hasOfficeContent('application/msword', truncated)).toBe(false);
  });

  it('refuses, rather than follows for ever, a compound file whose directory chain loops', () => {
    const bytes = Buffer.from(compound(['/WordDocument']));
    const dirStart = bytes.readUInt32LE(0x30);
    // Point the directory sector's FAT entry back at itself.
    const fatSector = bytes.readUInt32LE(0x4c);
    bytes.writeUInt32LE(dirStart, 512 * (fatSector + 1) + dirStart * 4);
    expect(hasOfficeContent('application/msword', compound(['/WordDocument']))).toBe(true);
    expect(hasOfficeContent('application/msword', bytes)).toBe(false);
  });
});

describe('names that are also properties of every object', () => {
  // Found by the HTTP fuzzer: `mime_type: "constructor"` reached a plain-object lookup and a 500.
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    '%s is just an unknown name',
    (name) => {
      expect(normalizeMimeType(name)).toBe(name.toLowerCase());
      expect(mimeTypeFromFilename(`a.${name}`)).toBeUndefined();
      expect(needsContainerCheck(name)).toBe(false);
      expect(hasOfficeContent(name, new Uint8Array([1, 2, 3]))).toBe(true);
      expect(checkType(name, null, DEFAULT_ALLOWED_MIME_TYPES).ok).toBe(false);
    },
  );
});

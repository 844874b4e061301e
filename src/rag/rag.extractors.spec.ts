import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { detectFormat, extractText, titleFromFilename, type ExtractedDocument } from 'src/rag/rag.extractors';
import { RagErrorCode, RagException } from 'src/rag/rag.exception';

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'rag');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));

async function extractionError(promise: Promise<unknown>): Promise<RagException> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RagException) return err;
    throw err;
  }
  throw new Error('expected extraction to fail');
}

const allText = (doc: ExtractedDocument) => doc.sections.map((s) => s.text).join('\n');
const section = (doc: ExtractedDocument, heading: string[]) =>
  doc.sections.find((s) => s.heading.join('/') === heading.join('/'));

describe('extractText: Markdown', () => {
  let doc: ExtractedDocument;
  beforeAll(async () => {
    doc = await extractText({
      buffer: fixture('handbook.md'),
      filename: 'handbook.md',
      mimeType: 'text/markdown',
    });
  });

  it('takes the title from front matter and leaves the front matter out of the text', () => {
    expect(doc.format).toBe('markdown');
    expect(doc.title).toBe('Field Office Handbook (2024 edition)');
    expect(allText(doc)).not.toContain('owner: operations');
  });

  it('keeps heading paths in document order, including text before the first heading', () => {
    expect(doc.sections.map((s) => s.heading)).toEqual([
      [],
      ['Field Office Handbook'],
      ['Field Office Handbook', 'Opening hours'],
      ['Field Office Handbook', 'Opening hours', 'Public holidays'],
      ['Field Office Handbook', 'Kitchen and coffee'],
      ['Field Office Handbook', 'Parking'],
      ['Field Office Handbook', 'Parking', 'Bicycles'],
    ]);
    expect(doc.sections[0].text).toBe(
      'This page collects the practical details of working from the Lisbon field office.',
    );
  });

  it('keeps code as text, never as a heading, and drops the fence lines', () => {
    const kitchen = section(doc, ['Field Office Handbook', 'Kitchen and coffee'])!;
    expect(kitchen.text).toContain('# this comment is code, not a heading');
    expect(kitchen.text).toContain("ssh kitchen-pi 'sudo systemctl restart espresso'");
    expect(kitchen.text).not.toContain('```');
  });

  it('drops HTML comments, turns images into their alt text, and leaves non-headings in the body', () => {
    const kitchen = section(doc, ['Field Office Handbook', 'Kitchen and coffee'])!;
    expect(allText(doc)).not.toContain('dishwasher rota');
    expect(kitchen.text).toContain('Diagram of the kitchen counter');
    expect(kitchen.text).not.toContain('kitchen.png');
    const bicycles = section(doc, ['Field Office Handbook', 'Parking', 'Bicycles'])!;
    expect(bicycles.text).toContain('####### Seven hashes do not make a heading.');
    expect(bicycles.text).toContain('#hashtag without a space is not a heading either.');
  });

  it('falls back to the first level-1 heading, then to the file name, for the title', async () => {
    const h1 = await extractText({
      buffer: Buffer.from('Intro.\n\n# Release Checklist\n\nShip it.\n'),
      filename: 'x.md',
    });
    expect(h1.title).toBe('Release Checklist');
    const none = await extractText({
      buffer: Buffer.from('## Only a subsection\n\nBody.\n'),
      filename: 'docs/on-call_guide.md',
    });
    expect(none.title).toBe('on call guide');
    expect(none.sections).toEqual([{ heading: ['Only a subsection'], text: 'Body.' }]);
  });

  it('treats an unclosed code fence as code to the end of the file', async () => {
    const doc2 = await extractText({
      buffer: Buffer.from('# T\n\n~~~\n# inside\n## also inside\n'),
      filename: 'a.md',
    });
    expect(doc2.sections).toEqual([{ heading: ['T'], text: '# inside\n## also inside' }]);
  });
});

describe('extractText: HTML', () => {
  let doc: ExtractedDocument;
  beforeAll(async () => {
    doc = await extractText({
      buffer: fixture('page.html'),
      filename: 'visitor-guide.html',
      mimeType: 'text/html; charset=utf-8',
    });
  });

  it('takes the title from <title> and decodes entities in it', () => {
    expect(doc.format).toBe('html');
    expect(doc.title).toBe('Visitor Guide — Harborlight');
  });

  it('makes sections from h2/h3 and ignores the h1 inside the dropped site header', () => {
    expect(doc.sections.map((s) => s.heading)).toEqual([
      [],
      ['Before the visit'],
      ['Before the visit', 'Café vouchers'],
      ['On arrival'],
    ]);
    expect(doc.sections[0].text).toBe('Maintained by the front desk team');
  });

  it('drops scripts, styles, navigation, page header and footer, and hidden elements', () => {
    const text = allText(doc);
    for (const gone of [
      'tracking-code',
      'injected-by-script',
      'font-family',
      'IT help',
      'Harborlight Intranet',
      'Internal use only',
      'Draft paragraph',
    ]) {
      expect(text).not.toContain(gone);
    }
  });

  it('decodes entities, collapses whitespace, and keeps line structure of lists, tables, <br> and <pre>', () => {
    const before = section(doc, ['Before the visit'])!;
    expect(before.text).toBe(
      'Register every guest in the visitor system at least one working day ahead. Guests receive a QR code by e\u2011mail & a map of the building.',
    );
    const vouchers = section(doc, ['Before the visit', 'Café vouchers'])!;
    expect(vouchers.text).toBe(
      'Hosts may request up to two café vouchers per guest per day.\nVouchers expire at the end of the month.',
    );
    const arrival = section(doc, ['On arrival'])!;
    expect(arrival.text).toContain(
      'Meet your guest at reception.\nHand over the visitor badge <red lanyard>.',
    );
    expect(arrival.text).toContain('Floor | Escort needed\nGround | No\nLab (3rd) | Yes');
    expect(arrival.text).toContain('Wi-Fi: guest-net\n  password: printed on the badge');
    expect(arrival.text).toContain('Tip: the visitor system also books parking for guests.');
  });

  it('uses the first h1 when there is no <title>', async () => {
    const html = '<html><body><h1>Desk Booking</h1><p>Book a desk.</p></body></html>';
    const d = await extractText({ buffer: Buffer.from(html), filename: 'page' });
    expect(d).toEqual({
      title: 'Desk Booking',
      format: 'html',
      sections: [{ heading: ['Desk Booking'], text: 'Book a desk.' }],
    });
  });
});

describe('extractText: plain text', () => {
  it('takes the title from a short first line and keeps the paragraphs', async () => {
    const doc = await extractText({ buffer: fixture('notes.txt'), filename: 'notes.txt' });
    expect(doc.format).toBe('text');
    expect(doc.title).toBe('Meeting room etiquette');
    expect(doc.sections).toHaveLength(1);
    expect(doc.sections[0].heading).toEqual([]);
    expect(doc.sections[0].text.split('\n\n')).toHaveLength(3);
  });

  it('uses the file name when the first line is a long sentence', async () => {
    const long = 'This first line is a full paragraph of prose rather than a heading, '.repeat(3);
    const doc = await extractText({
      buffer: Buffer.from(long),
      filename: 'meeting_notes.txt',
      mimeType: 'text/plain',
    });
    expect(doc.title).toBe('meeting notes');
  });

  it('normalises CRLF, strips a UTF-8 BOM, and reads UTF-16 with a BOM', async () => {
    const crlf = await extractText({
      buffer: Buffer.from('\uFEFFTitle\r\n\r\nBody line\r\n'),
      filename: 'a.txt',
    });
    expect(crlf.sections[0].text).toBe('Title\n\nBody line');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Überblick\n\nStraße', 'utf16le')]);
    const doc = await extractText({ buffer: utf16, filename: 'b.txt' });
    expect(doc.title).toBe('Überblick');
    expect(doc.sections[0].text).toBe('Überblick\n\nStraße');
  });

  it('reads legacy 8-bit text instead of rejecting it', async () => {
    const latin1 = Buffer.from(
      'Résumé des congés\n\nLes congés payés sont à poser avant le 31 mai.',
      'latin1',
    );
    const doc = await extractText({ buffer: latin1, filename: 'conges.txt' });
    expect(doc.title).toBe('Résumé des congés');
  });
});

describe('extractText: PDF', () => {
  it('extracts text per page from the committed PDF, with the title from its metadata', async () => {
    const doc = await extractText({
      buffer: fixture('sample.pdf'),
      filename: 'sample.pdf',
      mimeType: 'application/pdf',
    });
    expect(doc.format).toBe('pdf');
    expect(doc.title).toBe('Warehouse Safety Handbook');
    expect(doc.sections.map((s) => s.heading)).toEqual([['Page 1'], ['Page 2']]);
    const [page1, page2] = doc.sections.map((s) => s.text.replace(/\s+/g, ' '));
    expect(page1).toContain('Cold Storage Warehouse Safety');
    expect(page1).toContain('nobody works alone behind a closed freezer door');
    expect(page1).not.toContain('Forklift');
    expect(page2).toContain('call the facilities desk on extension 4410');
  });

  it('does not consume the caller’s buffer', async () => {
    const buffer = fixture('sample.pdf');
    const copy = Buffer.from(buffer);
    await extractText({ buffer, filename: 'sample.pdf' });
    expect(buffer.equals(copy)).toBe(true);
  });

  it('rejects a truncated PDF as corrupt', async () => {
    const err = await extractionError(
      extractText({ buffer: fixture('sample-truncated.pdf'), filename: 'sample.pdf' }),
    );
    expect(err.code).toBe(RagErrorCode.CorruptFile);
    expect(err.status).toBe(422);
    expect((err.cause as Error).name).toBe('InvalidPDFException');
  });

  it('gives up on a PDF that takes longer than the time limit', async () => {
    const err = await extractionError(
      extractText({ buffer: fixture('sample.pdf'), filename: 'sample.pdf' }, { pdfTimeoutMs: 1 }),
    );
    expect(err.code).toBe(RagErrorCode.CorruptFile);
    expect((err.cause as Error).message).toBe('PDF parsing exceeded 1 ms');
  });
});

describe('extractText: refusals', () => {
  it('rejects binary data declared as text as corrupt', async () => {
    const blob = fixture('blob.bin');
    for (const declared of [
      { filename: 'notes.txt' },
      { filename: 'notes', mimeType: 'text/plain' },
      { filename: 'readme.md', mimeType: 'text/markdown' },
      { filename: 'page.html' },
    ]) {
      const err = await extractionError(extractText({ buffer: blob, ...declared }));
      expect(err.code).toBe(RagErrorCode.CorruptFile);
    }
  });

  it('rejects text whose bytes are mostly invalid UTF-8 even without NUL bytes', async () => {
    const noisy = Buffer.from(
      Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? 0x41 : 0x80 + ((i * 37) % 120))),
    );
    expect(noisy.includes(0)).toBe(false);
    const err = await extractionError(extractText({ buffer: noisy, filename: 'a.txt' }));
    expect(err.code).toBe(RagErrorCode.CorruptFile);
  });

  it('rejects undeclared binary data and known non-document types as unsupported', async () => {
    const err = await extractionError(extractText({ buffer: fixture('blob.bin'), filename: 'blob.bin' }));
    expect(err.code).toBe(RagErrorCode.UnsupportedFormat);
    expect(err.status).toBe(415);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    const err2 = await extractionError(
      extractText({ buffer: png, filename: 'diagram.png', mimeType: 'image/png' }),
    );
    expect(err2.code).toBe(RagErrorCode.UnsupportedFormat);
  });

  it('rejects empty files and files without any text', async () => {
    for (const [buffer, filename] of [
      [Buffer.alloc(0), 'empty.pdf'],
      [Buffer.from('  \n\n \t\n'), 'blank.txt'],
      [Buffer.from('---\ntitle: Only front matter\n---\n\n# Heading only\n'), 'a.md'],
      [
        Buffer.from(
          '<html><head><title>T</title><script>x()</script></head><body><nav>Menu</nav></body></html>',
        ),
        'a.html',
      ],
    ] as const) {
      const err = await extractionError(extractText({ buffer, filename }));
      expect(err.code).toBe(RagErrorCode.EmptyDocument);
    }
  });

  it('rejects a PDF without a text layer as empty', async () => {
    const { PDFDocument } = await import('pdf-lib');
    const pdf = await PDFDocument.create();
    pdf.addPage([200, 200]).drawRectangle({ x: 10, y: 10, width: 50, height: 50 });
    const bytes = Buffer.from(await pdf.save());
    const err = await extractionError(extractText({ buffer: bytes, filename: 'scan.pdf' }));
    expect(err.code).toBe(RagErrorCode.EmptyDocument);
  });

  it('wraps the parser’s error as the cause, without echoing file contents in the message', async () => {
    const err = await extractionError(
      extractText({ buffer: fixture('sample-truncated.pdf'), filename: 'x/y/report.pdf' }),
    );
    expect(err.message).toBe('report.pdf is not a readable PDF');
    expect(err.cause).toBeInstanceOf(Error);
  });
});

describe('detectFormat', () => {
  const pdf = fixture('sample.pdf');
  const gz = gzipSync(Buffer.from('x'));
  const cases: Array<[string, { buffer: Buffer; filename: string; mimeType?: string }, string]> = [
    [
      'MIME type wins over extension',
      { buffer: Buffer.from('# a'), filename: 'a.txt', mimeType: 'text/markdown' },
      'markdown',
    ],
    [
      'text/plain with a Markdown extension is Markdown',
      { buffer: Buffer.from('a'), filename: 'a.md', mimeType: 'text/plain' },
      'markdown',
    ],
    [
      'text/plain otherwise is text',
      { buffer: Buffer.from('# a'), filename: 'a.html', mimeType: 'TEXT/PLAIN; charset=utf-8' },
      'text',
    ],
    [
      'octet-stream falls back to the extension',
      { buffer: pdf, filename: 'a.PDF', mimeType: 'application/octet-stream' },
      'pdf',
    ],
    [
      'unknown MIME falls back to the extension',
      { buffer: Buffer.from('a'), filename: 'a.htm', mimeType: 'application/x-download' },
      'html',
    ],
    ['sniffs PDF', { buffer: pdf, filename: 'download' }, 'pdf'],
    [
      'sniffs HTML',
      { buffer: Buffer.from('\n  <!DOCTYPE html><html><body>x</body></html>'), filename: 'index' },
      'html',
    ],
    [
      'sniffs Markdown',
      { buffer: Buffer.from('Intro\n\n## Setup\n\nRun it.'), filename: 'README' },
      'markdown',
    ],
    ['sniffs plain text', { buffer: Buffer.from('Just some words.'), filename: 'LICENSE' }, 'text'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(detectFormat(input)).toBe(expected);
  });

  it.each(['constructor', '__proto__', 'toString'])(
    'takes a type or an extension named like an object property (%s) for what it is: unknown',
    (name) => {
      expect(() => detectFormat({ buffer: gz, filename: `archive.${name}`, mimeType: name })).toThrow(
        RagException,
      );
    },
  );

  it('refuses undeclared binary', () => {
    expect(() => detectFormat({ buffer: gz, filename: 'archive' })).toThrow(RagException);
  });

  it('derives readable titles from file names', () => {
    expect(titleFromFilename('C:\\docs\\travel-booking_v2.md')).toBe('travel booking v2');
    expect(titleFromFilename('.env')).toBe('.env');
    expect(titleFromFilename('---.md')).toBe('Untitled');
  });
});

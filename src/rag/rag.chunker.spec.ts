import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  chunkDocument,
  chunkSearchText,
  countTokens,
  type Chunk,
  type ChunkOptions,
} from 'src/rag/rag.chunker';
import { extractText, type ExtractedDocument } from 'src/rag/rag.extractors';
import { chunkHash, chunkId, contentHash } from 'src/rag/rag.hash';

const ROOT = join(__dirname, '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'rag');
const CORPUS = join(ROOT, 'bench', 'rag', 'corpus');

const squash = (text: string) => text.replace(/\s+/g, ' ').trim();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Longest suffix of `prev` that `next` starts with: the text carried over between two chunks. */
function carriedOver(prev: string, next: string): string {
  for (let k = Math.min(prev.length, next.length); k > 0; k--) {
    if (prev.endsWith(next.slice(0, k))) return next.slice(0, k);
  }
  return '';
}

/** Every property a chunking must have, whatever the input. */
function expectWellFormed(doc: ExtractedDocument, chunks: Chunk[], opts: ChunkOptions): void {
  expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
  for (const chunk of chunks) {
    expect(chunk.text.trim()).not.toBe('');
    expect(chunk.tokenCount).toBe(countTokens(chunk.text));
    expect(chunk.tokenCount).toBeLessThanOrEqual(opts.maxTokens);
    expect(LONE_SURROGATE.test(chunk.text)).toBe(false);
    // Never spans sections: every chunk is a run of its own section's text.
    const own = doc.sections.filter((s) => s.heading.join('\u0000') === chunk.headingPath.join('\u0000'));
    expect(own.some((s) => squash(s.text).includes(squash(chunk.text)))).toBe(true);
  }
  // Chunks follow section order.
  const order = doc.sections.map((s) => s.heading.join('\u0000'));
  const seen = chunks.map((c) => order.indexOf(c.headingPath.join('\u0000')));
  expect([...seen].sort((a, b) => a - b)).toEqual(seen);
}

function sentence(i: number): string {
  const subjects = [
    'The quarterly report',
    'Every on-call engineer',
    'A rotated password',
    'The release train',
    'Our office plants',
  ];
  const verbs = [
    'needs a review by',
    'is checked against',
    'must be approved before',
    'gets archived after',
    'depends on',
  ];
  const objects = [
    'the Friday deadline',
    'the incident severity matrix',
    'a second reviewer',
    'the data retention rules',
    'the VPN gateway',
  ];
  return `${subjects[i % 5]} ${verbs[(i * 3) % 5]} ${objects[(i * 7) % 5]} (item ${i}).`;
}

/** Long, varied, deterministic prose: paragraphs of 3 to 11 sentences under a few headings. */
function longDocument(): ExtractedDocument {
  const sections = ['Overview', 'Details', 'Exceptions'].map((heading, s) => {
    const paragraphs: string[] = [];
    let n = s * 1000;
    for (let p = 0; p < 9; p++) {
      const count = 3 + ((p * 5 + s) % 9);
      paragraphs.push(Array.from({ length: count }, () => sentence(n++)).join(' '));
    }
    return { heading: ['Long handbook', heading], text: paragraphs.join('\n\n') };
  });
  return { title: 'Long handbook', format: 'markdown', sections };
}

const OPTION_SETS: ChunkOptions[] = [
  { maxTokens: 8, overlapTokens: 0 },
  { maxTokens: 24, overlapTokens: 6 },
  { maxTokens: 64, overlapTokens: 16 },
  { maxTokens: 200, overlapTokens: 40 },
  { maxTokens: 512, overlapTokens: 0 },
];

describe('chunkDocument on real fixtures', () => {
  let handbook: ExtractedDocument;
  let pdf: ExtractedDocument;
  let html: ExtractedDocument;
  beforeAll(async () => {
    handbook = await extractText({
      buffer: readFileSync(join(FIXTURES, 'handbook.md')),
      filename: 'handbook.md',
    });
    pdf = await extractText({ buffer: readFileSync(join(FIXTURES, 'sample.pdf')), filename: 'sample.pdf' });
    html = await extractText({ buffer: readFileSync(join(FIXTURES, 'page.html')), filename: 'page.html' });
  });

  it('keeps each small section whole, with its heading path and no heading text prefixed', () => {
    const chunks = chunkDocument(handbook, { maxTokens: 400, overlapTokens: 50 });
    expect(chunks.map((c) => c.headingPath)).toEqual(handbook.sections.map((s) => s.heading));
    expect(chunks.map((c) => c.text)).toEqual(handbook.sections.map((s) => s.text));
    const pdfChunks = chunkDocument(pdf, { maxTokens: 400, overlapTokens: 50 });
    expect(pdfChunks.map((c) => c.headingPath)).toEqual([['Page 1'], ['Page 2']]);
  });

  it.each(OPTION_SETS)('is well formed for %o', (opts) => {
    for (const doc of [handbook, pdf, html]) expectWellFormed(doc, chunkDocument(doc, opts), opts);
  });

  it('splits a PDF page into sentence-sized chunks when the page is larger than the limit', () => {
    const opts = { maxTokens: 40, overlapTokens: 10 };
    const chunks = chunkDocument(pdf, opts);
    expect(chunks.length).toBeGreaterThan(pdf.sections.length);
    expectWellFormed(pdf, chunks, opts);
  });
});

describe('chunkDocument on long text', () => {
  const doc = longDocument();

  it.each(OPTION_SETS)('never exceeds maxTokens and stays inside its section for %o', (opts) => {
    const chunks = chunkDocument(doc, opts);
    expect(chunks.length).toBeGreaterThan(doc.sections.length);
    expectWellFormed(doc, chunks, opts);
  });

  it('packs chunks close to the limit rather than one sentence each', () => {
    const opts = { maxTokens: 200, overlapTokens: 0 };
    const chunks = chunkDocument(doc, opts);
    const full = chunks.filter((c, i) => chunks[i + 1]?.headingPath.join() === c.headingPath.join());
    const mean = full.reduce((sum, c) => sum + c.tokenCount, 0) / full.length;
    expect(mean).toBeGreaterThan(opts.maxTokens * 0.75);
  });

  it('carries up to overlapTokens of trailing text into the next chunk of the same section only', () => {
    const opts = { maxTokens: 120, overlapTokens: 30 };
    const chunks = chunkDocument(doc, opts);
    let boundaries = 0;
    let overlapped = 0;
    for (let i = 1; i < chunks.length; i++) {
      const [prev, next] = [chunks[i - 1], chunks[i]];
      const carried = carriedOver(prev.text, next.text);
      if (prev.headingPath.join() !== next.headingPath.join()) {
        expect(next.text.startsWith(carried) && countTokens(carried) > 3).toBe(false);
        continue;
      }
      boundaries++;
      if (carried.trim() === '') {
        // Only when the next piece of text leaves no room for it.
        expect(next.tokenCount).toBeGreaterThan(opts.maxTokens - opts.overlapTokens);
        continue;
      }
      overlapped++;
      expect(countTokens(carried)).toBeLessThanOrEqual(opts.overlapTokens);
      expect(carried.length).toBeLessThan(next.text.length);
    }
    expect(boundaries).toBeGreaterThan(5);
    expect(overlapped).toBeGreaterThan(boundaries * 0.8);
  });

  it('loses nothing and repeats nothing without overlap', () => {
    const chunks = chunkDocument(doc, { maxTokens: 50, overlapTokens: 0 });
    for (const section of doc.sections) {
      const own = chunks.filter((c) => c.headingPath.join() === section.heading.join());
      expect(squash(own.map((c) => c.text).join(' '))).toBe(squash(section.text));
    }
  });

  it('loses nothing with overlap once the carried-over text is removed', () => {
    const chunks = chunkDocument(doc, { maxTokens: 50, overlapTokens: 12 });
    for (const section of doc.sections) {
      const own = chunks.filter((c) => c.headingPath.join() === section.heading.join());
      const rebuilt = own.map((c, i) =>
        i === 0 ? c.text : c.text.slice(carriedOver(own[i - 1].text, c.text).length),
      );
      expect(squash(rebuilt.join(' '))).toBe(squash(section.text));
    }
  });

  it('is deterministic', () => {
    const opts = { maxTokens: 64, overlapTokens: 16 };
    const first = chunkDocument(doc, opts);
    const second = chunkDocument(structuredClone(doc), { ...opts });
    expect(second).toEqual(first);
  });
});

describe('chunkDocument on awkward text', () => {
  const single = (text: string): ExtractedDocument => ({
    title: 'T',
    format: 'text',
    sections: [{ heading: [], text }],
  });

  it('cuts an unbroken token run (a base64 blob) into pieces that reassemble exactly', () => {
    const blob = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131) % 256)).toString('base64');
    const opts = { maxTokens: 100, overlapTokens: 0 };
    const chunks = chunkDocument(single(blob), opts);
    expect(chunks.length).toBeGreaterThan(5);
    expectWellFormed(single(blob), chunks, opts);
    expect(chunks.map((c) => c.text).join('')).toBe(blob);
  });

  it('splits text without spaces at CJK full stops and never splits a surrogate pair', () => {
    const cjk = '会議室は予約した時間だけ使ってください。終わったら白板を消してください。'.repeat(12);
    const emoji = '🌱🌵🌻'.repeat(200);
    for (const text of [cjk, emoji]) {
      const opts = { maxTokens: 30, overlapTokens: 8 };
      const chunks = chunkDocument(single(text), opts);
      expect(chunks.length).toBeGreaterThan(1);
      expectWellFormed(single(text), chunks, opts);
    }
  });

  it('keeps the indentation of an oversized code block by splitting it at lines', () => {
    const code = Array.from(
      { length: 60 },
      (_, i) => `    if (retries > ${i}) {\n        backoff(${i});\n    }`,
    ).join('\n');
    const chunks = chunkDocument(single(code), { maxTokens: 60, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      for (const line of chunk.text.split('\n')) expect(line).toMatch(/^ {4}(if|\s{4}backoff|\})/);
    }
  });

  it('treats special-token spellings as plain text', () => {
    const chunks = chunkDocument(single('Never paste <|endoftext|> into the prompt.'), {
      maxTokens: 64,
      overlapTokens: 0,
    });
    expect(chunks).toHaveLength(1);
    expect(chunks[0].tokenCount).toBeGreaterThan(5);
  });

  it('returns no chunks for a document without text', () => {
    expect(
      chunkDocument(
        { title: 'T', format: 'text', sections: [{ heading: ['A'], text: ' \n\n ' }] },
        { maxTokens: 64, overlapTokens: 0 },
      ),
    ).toEqual([]);
  });

  it('rejects options that cannot be honoured', () => {
    const doc = single('text');
    expect(() => chunkDocument(doc, { maxTokens: 4, overlapTokens: 0 })).toThrow(RangeError);
    expect(() => chunkDocument(doc, { maxTokens: 64, overlapTokens: 64 })).toThrow(RangeError);
    expect(() => chunkDocument(doc, { maxTokens: 64.5, overlapTokens: 0 })).toThrow(RangeError);
    expect(() => chunkDocument(doc, { maxTokens: 64, overlapTokens: -1 })).toThrow(RangeError);
  });
});

describe('chunkDocument on the evaluation corpus', () => {
  it('chunks every corpus document within the limit', async () => {
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.md'));
    expect(files.length).toBeGreaterThanOrEqual(30);
    const opts = { maxTokens: 96, overlapTokens: 24 };
    for (const file of files) {
      const doc = await extractText({ buffer: readFileSync(join(CORPUS, file)), filename: file });
      expectWellFormed(doc, chunkDocument(doc, opts), opts);
    }
  });
});

describe('countTokens', () => {
  it('counts cl100k_base tokens', () => {
    expect(countTokens('')).toBe(0);
    // Reference values of the cl100k_base encoding.
    expect(countTokens('hello world')).toBe(2);
    expect(countTokens('tiktoken is great!')).toBe(6);
  });
});

describe('chunkSearchText', () => {
  it('puts the title and heading path before the text, without repeating a title-level heading', () => {
    const chunk = { headingPath: ['Expense policy', 'Meals'], text: 'Dinner is covered up to 40 EUR.' };
    expect(chunkSearchText(chunk, 'Expense policy')).toBe(
      'Expense policy > Meals\n\nDinner is covered up to 40 EUR.',
    );
    expect(chunkSearchText(chunk, 'Finance handbook')).toBe(
      'Finance handbook > Expense policy > Meals\n\nDinner is covered up to 40 EUR.',
    );
    expect(chunkSearchText({ headingPath: [], text: 'Body.' }, '  ')).toBe('Body.');
  });
});

describe('content hashes', () => {
  it('hashes bytes with SHA-256', () => {
    // The FIPS 180-2 test vector for "abc".
    expect(contentHash(Buffer.from('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(contentHash('abc')).toBe(contentHash(new Uint8Array([0x61, 0x62, 0x63])));
  });

  it('gives unchanged chunks the same hash on re-ingestion and tells heading from text apart', () => {
    const doc = longDocument();
    const opts = { maxTokens: 64, overlapTokens: 16 };
    const first = chunkDocument(doc, opts).map(chunkHash);
    expect(chunkDocument(structuredClone(doc), opts).map(chunkHash)).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
    expect(chunkHash({ headingPath: ['a b'], text: 'c' })).not.toBe(
      chunkHash({ headingPath: ['a'], text: 'b c' }),
    );
  });

  it('derives stable version-8 UUIDs per document and position', () => {
    const doc = contentHash('document bytes');
    const id = chunkId(doc, 3);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(chunkId(doc, 3)).toBe(id);
    expect(chunkId(doc, 4)).not.toBe(id);
    expect(chunkId(contentHash('other bytes'), 3)).not.toBe(id);
    expect(() => chunkId(doc, -1)).toThrow(RangeError);
  });
});

/**
 * Turns an uploaded file (Markdown, plain text, HTML or PDF) into a title and a list of sections,
 * each with its heading path, ready for the chunker. It decides the format, refuses what it cannot
 * read with a RagException, and never guesses text out of binary data. It must never touch the
 * database, the network or the file system: bytes in, text out.
 */
import { parse as parseHtml, HTMLElement, NodeType, type Node as HtmlNode } from 'node-html-parser';
import { Worker } from 'node:worker_threads';
import { RagErrorCode, RagException } from 'src/rag/rag.exception';

export type DocumentFormat = 'markdown' | 'text' | 'html' | 'pdf';

export interface ExtractedSection {
  /** Heading path from the outermost heading down; empty for text before the first heading. */
  heading: string[];
  text: string;
}

export interface ExtractedDocument {
  title: string;
  format: DocumentFormat;
  sections: ExtractedSection[];
}

export interface ExtractInput {
  buffer: Buffer;
  filename: string;
  mimeType?: string;
}

export interface ExtractOptions {
  /** Upper bound for parsing one PDF; defaults to PDF_TIMEOUT_MS. */
  pdfTimeoutMs?: number;
}

export async function extractText(
  input: ExtractInput,
  opts: ExtractOptions = {},
): Promise<ExtractedDocument> {
  if (input.buffer.length === 0) {
    throw new RagException(RagErrorCode.EmptyDocument, `${displayName(input.filename)} is empty`);
  }
  const format = detectFormat(input);
  const doc =
    format === 'pdf'
      ? await extractPdf(input.buffer, input.filename, opts.pdfTimeoutMs ?? PDF_TIMEOUT_MS)
      : extractDecoded(format, decodeText(input.buffer, input.filename), input.filename);
  if (!doc.sections.some((s) => s.text.trim() !== '')) {
    throw new RagException(RagErrorCode.EmptyDocument, `${displayName(input.filename)} contains no text`);
  }
  return doc;
}

function extractDecoded(
  format: Exclude<DocumentFormat, 'pdf'>,
  text: string,
  filename: string,
): ExtractedDocument {
  switch (format) {
    case 'markdown':
      return extractMarkdown(text, filename);
    case 'html':
      return extractHtml(text, filename);
    case 'text':
      return extractPlainText(text, filename);
  }
}

// ---------------------------------------------------------------------------------------------
// Format detection

const MIME_FORMATS = new Map<string, DocumentFormat>(
  Object.entries({
    'application/pdf': 'pdf',
    'application/x-pdf': 'pdf',
    'text/markdown': 'markdown',
    'text/x-markdown': 'markdown',
    'text/html': 'html',
    'application/xhtml+xml': 'html',
    'text/plain': 'text',
  }),
);

const EXTENSION_FORMATS = new Map<string, DocumentFormat>(
  Object.entries({
    md: 'markdown',
    markdown: 'markdown',
    mdown: 'markdown',
    mkd: 'markdown',
    txt: 'text',
    text: 'text',
    html: 'html',
    htm: 'html',
    xhtml: 'html',
    pdf: 'pdf',
  }),
);

/**
 * Declared MIME type first, then the file extension, then the bytes. `text/plain` is only a weak
 * claim: browsers and curl send it for `.md` files, so a Markdown extension wins over it.
 */
export function detectFormat(input: ExtractInput): DocumentFormat {
  const mime = (input.mimeType ?? '').split(';')[0].trim().toLowerCase();
  const byExtension = EXTENSION_FORMATS.get(extensionOf(input.filename));
  const byMime = MIME_FORMATS.get(mime);
  if (byMime && byMime !== 'text') return byMime;
  if (byMime === 'text') return byExtension === 'markdown' ? 'markdown' : 'text';
  if (byExtension) return byExtension;
  const sniffed = sniffFormat(input.buffer);
  if (sniffed) return sniffed;
  const declared =
    mime && mime !== 'application/octet-stream' ? mime : extensionOf(input.filename) || 'unknown';
  throw new RagException(
    RagErrorCode.UnsupportedFormat,
    `unsupported file type (${declared}); upload Markdown, plain text, HTML or PDF`,
  );
}

function sniffFormat(buffer: Buffer): DocumentFormat | undefined {
  // The PDF header may follow a little junk (some generators prepend bytes); readers accept 1 KiB.
  if (buffer.subarray(0, 1024).includes('%PDF-')) return 'pdf';
  if (looksBinary(buffer)) return undefined;
  const head = buffer
    .subarray(0, 2048)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (/^(<\?xml[^>]*>\s*)?<(!doctype html|html|head|body)[\s>]/.test(head)) return 'html';
  if (/^---\r?\n/.test(head) || /^ {0,3}#{1,6}[ \t]+\S/m.test(head)) return 'markdown';
  return 'text';
}

function extensionOf(filename: string): string {
  const base = baseName(filename);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

function baseName(filename: string): string {
  return filename.split(/[\\/]/).pop() ?? '';
}

function displayName(filename: string): string {
  return baseName(filename) || 'the file';
}

/** "travel-booking_v2.md" → "travel booking v2": the last resort when a file names no title. */
export function titleFromFilename(filename: string): string {
  const base = baseName(filename);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, dot) : base;
  return stem.replace(/[-_]+/g, ' ').replace(/\s+/g, ' ').trim() || 'Untitled';
}

// ---------------------------------------------------------------------------------------------
// Text decoding: refuse binary, accept UTF-8, UTF-16 with a BOM, and legacy single-byte text.

/** C0 controls other than tab, LF, VT, FF, CR and ESC (which appears in terminal logs), plus DEL. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u0008\u000E-\u001A\u001C-\u001F\u007F]/g;

function looksBinary(buffer: Buffer): boolean {
  const sample = buffer.subarray(0, 8192);
  if (sample.includes(0)) return true;
  let controls = 0;
  for (const byte of sample)
    if (byte < 0x09 || (byte > 0x0d && byte < 0x20 && byte !== 0x1b) || byte === 0x7f) controls++;
  return controls > sample.length * 0.01;
}

function decodeText(buffer: Buffer, filename: string): string {
  const corrupt = () =>
    new RagException(
      RagErrorCode.CorruptFile,
      `${displayName(filename)} is declared as text but contains binary data`,
    );

  let text: string;
  if (buffer[0] === 0xff && buffer[1] === 0xfe) {
    text = new TextDecoder('utf-16le').decode(buffer.subarray(2));
  } else if (buffer[0] === 0xfe && buffer[1] === 0xff) {
    text = new TextDecoder('utf-16be').decode(buffer.subarray(2));
  } else {
    if (buffer.includes(0)) throw corrupt();
    const body = buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf ? buffer.subarray(3) : buffer;
    text = new TextDecoder('utf-8').decode(body);
    const invalid = countMatches(text, /\uFFFD/g);
    // A stray bad byte in otherwise valid UTF-8 is kept (as U+FFFD). Many invalid sequences mean
    // either a legacy 8-bit encoding, which is mostly ASCII with sparse high bytes, or binary.
    if (invalid > Math.max(1, text.length * 0.001)) {
      let high = 0;
      for (const byte of body) if (byte >= 0x80) high++;
      if (high > body.length * 0.15) throw corrupt();
      text = new TextDecoder('latin1').decode(body);
    }
  }
  if (text.includes('\u0000') || countMatches(text, CONTROL_CHARS) > text.length * 0.01) throw corrupt();
  return text.replace(/\r\n?/g, '\n').replace(/\f/g, '\n\n').replace(CONTROL_CHARS, '');
}

function countMatches(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

/** Trailing spaces off every line, runs of blank lines down to one, no blank edges. */
function tidyBlock(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+|\n+$/g, '');
}

// ---------------------------------------------------------------------------------------------
// Markdown

const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE_OPEN = /^ {0,3}(`{3,}(?=[^`]*$)|~{3,})/;

function extractMarkdown(source: string, filename: string): ExtractedDocument {
  const { body, title: frontMatterTitle } = splitFrontMatter(source.replace(/^\uFEFF/, ''));
  const sections: ExtractedSection[] = [];
  const path: Array<{ level: number; text: string }> = [];
  let lines: string[] = [];
  let fence: { char: string; length: number } | undefined;
  let firstH1: string | undefined;

  const flush = () => {
    const text = tidyBlock(lines.join('\n'));
    if (text.trim()) sections.push({ heading: path.map((h) => h.text), text });
    lines = [];
  };

  for (const line of body.replace(/<!--[\s\S]*?-->/g, '').split('\n')) {
    if (fence) {
      const close = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(line);
      if (close && close[1][0] === fence.char && close[1].length >= fence.length) fence = undefined;
      else lines.push(line);
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    if (open) {
      // The code stays as text (identifiers and error messages are what people search for); the
      // fence lines themselves carry nothing worth indexing.
      fence = { char: open[1][0], length: open[1].length };
      continue;
    }
    const heading = ATX_HEADING.exec(line);
    if (heading) {
      flush();
      const level = heading[1].length;
      const text = cleanInline(heading[2] ?? '');
      while (path.length > 0 && path[path.length - 1].level >= level) path.pop();
      if (text) path.push({ level, text });
      if (level === 1 && text && firstH1 === undefined) firstH1 = text;
      continue;
    }
    lines.push(markdownBodyLine(line));
  }
  flush();

  return { title: frontMatterTitle ?? firstH1 ?? titleFromFilename(filename), format: 'markdown', sections };
}

function splitFrontMatter(source: string): { body: string; title?: string } {
  const match = /^(---|\+\+\+)[ \t]*\n([\s\S]*?)\n(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|$)/.exec(source);
  if (!match) return { body: source };
  const titleLine = /^title[ \t]*[:=][ \t]*(.+?)[ \t]*$/im.exec(match[2]);
  const title = titleLine?.[1].replace(/^(["'])(.*)\1$/, '$2').trim();
  return { body: source.slice(match[0].length), title: title || undefined };
}

/** Inline Markdown that only gets in the way of reading: images become their alt text. */
function markdownBodyLine(line: string): string {
  return line.replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1');
}

/** Headings are shown and searched as plain words, so emphasis, code and link syntax go. */
function cleanInline(text: string): string {
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`+([^`]*)`+/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(\*|_)(.+?)\1/g, '$2')
    .replace(/\s+/g, ' ')
    .trim();
}

// ---------------------------------------------------------------------------------------------
// Plain text

function extractPlainText(source: string, filename: string): ExtractedDocument {
  const text = tidyBlock(source.replace(/^\uFEFF/, ''));
  const firstLine = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  // A first line that reads like a heading names the document; a long one is just prose.
  const title = firstLine && firstLine.length <= 120 ? firstLine : titleFromFilename(filename);
  return { title, format: 'text', sections: text.trim() ? [{ heading: [], text }] : [] };
}

// ---------------------------------------------------------------------------------------------
// HTML

const DROPPED_ELEMENTS =
  'script, style, noscript, template, svg, canvas, iframe, object, nav, [role=navigation], [hidden], [aria-hidden=true]';
const BLOCK_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'caption',
  'center',
  'dd',
  'details',
  'dialog',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hgroup',
  'hr',
  'html',
  'legend',
  'main',
  'ol',
  'p',
  'section',
  'summary',
  'table',
  'tbody',
  'tfoot',
  'thead',
  'ul',
]);
const LINE_ELEMENTS = new Set(['li', 'tr', 'option']);
const HEADING = /^h([1-6])$/;

function extractHtml(source: string, filename: string): ExtractedDocument {
  const root = parseHtml(source, { comment: false });
  const title =
    collapse(root.querySelector('title')?.text ?? '') ||
    collapse(root.querySelector('h1')?.text ?? '') ||
    titleFromFilename(filename);

  for (const el of root.querySelectorAll(DROPPED_ELEMENTS)) el.remove();
  // Page-level banners and footers are site chrome; inside an article they belong to the content.
  for (const el of root.querySelectorAll('header, footer, [role=banner], [role=contentinfo]')) {
    if (!hasAncestor(el, ['article', 'main'])) el.remove();
  }

  const writer = new HtmlTextWriter();
  writer.walk(root.querySelector('body') ?? root);
  return { title, format: 'html', sections: writer.finish() };
}

function hasAncestor(el: HTMLElement, tags: string[]): boolean {
  for (let p = el.parentNode; p; p = p.parentNode) {
    if (tags.includes(p.tagName?.toLowerCase())) return true;
  }
  return false;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Walks the DOM in document order; headings open sections, block elements end paragraphs. */
class HtmlTextWriter {
  private readonly sections: ExtractedSection[] = [];
  private readonly path: Array<{ level: number; text: string }> = [];
  private blocks: string[] = [];
  private lines: string[] = [];
  private line = '';

  walk(node: HtmlNode): void {
    if (node.nodeType === NodeType.TEXT_NODE) {
      this.line += node.text.replace(/\s+/g, ' ');
      return;
    }
    if (!(node instanceof HTMLElement)) return;
    const tag = node.tagName?.toLowerCase() ?? '';
    const heading = HEADING.exec(tag);
    if (heading) {
      const text = collapse(node.text);
      if (text) {
        this.endSection();
        const level = Number(heading[1]);
        while (this.path.length > 0 && this.path[this.path.length - 1].level >= level) this.path.pop();
        this.path.push({ level, text });
      }
      return;
    }
    if (tag === 'br') return this.endLine();
    if (tag === 'pre') {
      this.endBlock();
      const text = tidyBlock(node.text);
      if (text.trim()) this.blocks.push(text);
      return;
    }
    if ((tag === 'td' || tag === 'th') && this.line.trim()) this.line += ' | ';
    const block = BLOCK_ELEMENTS.has(tag);
    const lineLike = LINE_ELEMENTS.has(tag);
    if (block) this.endBlock();
    else if (lineLike) this.endLine();
    for (const child of node.childNodes) this.walk(child);
    if (block) this.endBlock();
    else if (lineLike) this.endLine();
  }

  finish(): ExtractedSection[] {
    this.endSection();
    return this.sections;
  }

  private endLine(): void {
    const line = this.line.replace(/ {2,}/g, ' ').trim();
    if (line) this.lines.push(line);
    this.line = '';
  }

  private endBlock(): void {
    this.endLine();
    if (this.lines.length > 0) this.blocks.push(this.lines.join('\n'));
    this.lines = [];
  }

  private endSection(): void {
    this.endBlock();
    const text = this.blocks.join('\n\n');
    if (text.trim()) this.sections.push({ heading: this.path.map((h) => h.text), text });
    this.blocks = [];
  }
}

// ---------------------------------------------------------------------------------------------
// PDF

/** Default limit for one PDF; a file that takes longer is treated as unreadable. */
export const PDF_TIMEOUT_MS = 60_000;

interface PdfWorkerResult {
  ok: boolean;
  infoTitle?: string;
  metaTitle?: string;
  pages?: Array<{ num: number; text: string }>;
  errorName?: string;
  errorMessage?: string;
}

/**
 * pdf.js runs in a worker thread: parsing a large PDF is seconds of CPU that must not stall the
 * event loop every open chat stream shares, a hostile file can be cut off by time and memory
 * limits, and pdf.js loads its own worker module with a dynamic import(), which works in a plain
 * Node thread but not inside a CommonJS module sandbox such as the test runner's. The source is
 * inline (CommonJS) so it runs the same from compiled output and from TypeScript sources.
 */
const PDF_WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PDFParse } = require(workerData.modulePath);
(async () => {
  const parser = new PDFParse({ data: workerData.data });
  try {
    const info = await parser.getInfo();
    const text = await parser.getText({ pageJoiner: '' });
    const metaTitle = info.metadata ? info.metadata.get('dc:title') : null;
    parentPort.postMessage({
      ok: true,
      infoTitle: info.info && typeof info.info.Title === 'string' ? info.info.Title : '',
      metaTitle: typeof metaTitle === 'string' ? metaTitle : '',
      pages: text.pages.map((p) => ({ num: p.num, text: p.text })),
    });
  } catch (err) {
    parentPort.postMessage({ ok: false, errorName: (err && err.name) || 'Error', errorMessage: String((err && err.message) || err) });
  } finally {
    await parser.destroy().catch(() => undefined);
  }
})();
`;

async function extractPdf(buffer: Buffer, filename: string, timeoutMs: number): Promise<ExtractedDocument> {
  const name = displayName(filename);
  const result = await runPdfWorker(buffer, timeoutMs).catch((err: unknown) => {
    throw new RagException(RagErrorCode.CorruptFile, `${name} could not be processed`, { cause: err });
  });
  if (!result.ok) {
    const cause = Object.assign(new Error(result.errorMessage), { name: result.errorName });
    if (result.errorName === 'PasswordException') {
      throw new RagException(RagErrorCode.UnsupportedFormat, `${name} is password-protected`, { cause });
    }
    throw new RagException(RagErrorCode.CorruptFile, `${name} is not a readable PDF`, { cause });
  }

  const sections: ExtractedSection[] = [];
  for (const page of result.pages ?? []) {
    const text = tidyBlock(
      page.text
        .replace(/\r\n?/g, '\n')
        .replace(CONTROL_CHARS, '')
        .split('\n')
        .map((l) => l.trim())
        .join('\n'),
    );
    // Pages are the only structure a PDF reliably has, and "page 4" is what a reader cites.
    if (text.trim()) sections.push({ heading: [`Page ${page.num}`], text });
  }
  if (sections.length === 0) {
    throw new RagException(
      RagErrorCode.EmptyDocument,
      `${name} has no text layer (scanned pages need OCR, which is not supported)`,
    );
  }
  const title =
    collapse(result.infoTitle ?? '') || collapse(result.metaTitle ?? '') || titleFromFilename(filename);
  return { title, format: 'pdf', sections };
}

function runPdfWorker(buffer: Buffer, timeoutMs: number): Promise<PdfWorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(PDF_WORKER_SOURCE, {
      eval: true,
      // Structured cloning copies the bytes, so the caller's buffer is never detached.
      workerData: { modulePath: require.resolve('pdf-parse'), data: new Uint8Array(buffer) },
      resourceLimits: { maxOldGenerationSizeMb: 512 },
      stdout: true,
      stderr: true,
    });
    // pdf.js warns on stdout about every oddity in a file; those are not ours to log.
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      fn();
    };
    const timer = setTimeout(
      () => settle(() => reject(new Error(`PDF parsing exceeded ${timeoutMs} ms`))),
      timeoutMs,
    );
    worker.once('message', (message: PdfWorkerResult) => settle(() => resolve(message)));
    worker.once('error', (err) => settle(() => reject(err)));
    worker.once('exit', (code) => settle(() => reject(new Error(`PDF worker exited with code ${code}`))));
  });
}

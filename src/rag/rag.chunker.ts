/**
 * Cuts an extracted document into chunks small enough to embed and to quote back to the model:
 * section by section, then paragraph, sentence, line and word, and only as a last resort in the
 * middle of a word. Sizes are real cl100k_base token counts. A chunk never exceeds `maxTokens` and
 * never spans two sections. The output depends on nothing but the input: same document and
 * options, same chunks, so re-ingesting unchanged text keeps its chunk hashes. No I/O here.
 */
import { Tiktoken, type TiktokenBPE } from 'js-tiktoken/lite';
import type { ExtractedDocument } from 'src/rag/rag.extractors';

export interface Chunk {
  /** Position in the document, from 0, across all sections. */
  index: number;
  headingPath: string[];
  text: string;
  tokenCount: number;
}

export interface ChunkOptions {
  maxTokens: number;
  /** Trailing tokens of a chunk repeated at the start of the next chunk of the same section. */
  overlapTokens: number;
}

/** Below this, one code point (up to four UTF-8 bytes, so up to four tokens) might not fit. */
export const MIN_CHUNK_TOKENS = 8;

let encoder: Tiktoken | undefined;

function tokenizer(): Tiktoken {
  if (!encoder) {
    // The rank table is ~1.6 MB of text; load it on first use, not at import. A plain require
    // because the compiler's `node` resolution cannot see this package's subpath exports.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ranks = require('js-tiktoken/ranks/cl100k_base') as TiktokenBPE;
    encoder = new Tiktoken(ranks);
  }
  return encoder;
}

/** cl100k_base token count. Special-token spellings in documents count as ordinary text. */
export function countTokens(text: string): number {
  return text === '' ? 0 : tokenizer().encode(text, [], []).length;
}

export function chunkDocument(doc: ExtractedDocument, opts: ChunkOptions): Chunk[] {
  validateOptions(opts);
  const chunks: Chunk[] = [];
  for (const section of doc.sections) {
    for (const text of chunkSection(section.text, opts)) {
      chunks.push({
        index: chunks.length,
        headingPath: [...section.heading],
        text,
        tokenCount: countTokens(text),
      });
    }
  }
  return chunks;
}

/**
 * The text to index for full-text search and to embed: title and heading path first, because a
 * chunk's words rarely repeat what its heading says ("Meals" under "Expense policy"). The stored
 * chunk text stays unprefixed so quoting it back to the model does not repeat headings.
 */
export function chunkSearchText(chunk: Pick<Chunk, 'headingPath' | 'text'>, title: string): string {
  const path = chunk.headingPath.map((h) => h.trim()).filter(Boolean);
  const cleanTitle = title.trim();
  if (path.length > 0 && path[0].toLowerCase() === cleanTitle.toLowerCase()) path.shift();
  const header = [cleanTitle, ...path].filter(Boolean).join(' > ');
  return header ? `${header}\n\n${chunk.text}` : chunk.text;
}

function validateOptions(opts: ChunkOptions): void {
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < MIN_CHUNK_TOKENS) {
    throw new RangeError(`maxTokens must be an integer >= ${MIN_CHUNK_TOKENS}, got ${opts.maxTokens}`);
  }
  if (
    !Number.isInteger(opts.overlapTokens) ||
    opts.overlapTokens < 0 ||
    opts.overlapTokens >= opts.maxTokens
  ) {
    throw new RangeError(`overlapTokens must be an integer in [0, maxTokens), got ${opts.overlapTokens}`);
  }
}

/** A piece of section text and the separator that rejoins it to the piece before it. */
interface Unit {
  text: string;
  tokens: number;
  joiner: string;
  /** A whole paragraph that may still be broken at sentences to fill a chunk. */
  paragraph?: boolean;
}

function chunkSection(text: string, opts: ChunkOptions): string[] {
  const units: Unit[] = [];
  for (const paragraph of text.split(/\n[ \t]*\n/)) {
    const trimmed = paragraph.replace(/^\s*\n|\s+$/g, '');
    if (!trimmed.trim()) continue;
    const tokens = tokensIfPlausible(trimmed, opts.maxTokens);
    if (tokens <= opts.maxTokens) {
      units.push({ text: trimmed, tokens, joiner: '\n\n', paragraph: true });
    } else {
      const pieces = splitOversized(trimmed, opts.maxTokens, 0);
      pieces[0] = { ...pieces[0], joiner: '\n\n' };
      units.push(...pieces);
    }
  }
  return pack(units, opts);
}

/**
 * Greedy packing that prefers whole paragraphs, but breaks one at sentences rather than close a
 * chunk that is less than half full. Candidates are sized by adding up token counts (re-encoding
 * the growing chunk for every sentence would make packing quadratic); each finished chunk is then
 * counted exactly and, in the rare case that BPE merges at the joins push it over the limit,
 * gives back trailing pieces until it fits.
 */
function pack(queue: Unit[], opts: ChunkOptions): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < queue.length) {
    const previous = out.length > 0 && opts.overlapTokens > 0 ? out[out.length - 1] : undefined;
    const first = previous === undefined ? queue[i] : startWithOverlap(previous, queue[i], opts);
    let end = i + 1;
    let estimate = first.tokens;
    while (end < queue.length) {
      const unit = queue[end];
      const grown = estimate + joinerTokens(unit.joiner) + unit.tokens;
      if (grown <= opts.maxTokens) {
        estimate = grown;
        end++;
        continue;
      }
      if (unit.paragraph && estimate < opts.maxTokens / 2) {
        const sentences = splitLevel(unit.text, LEVELS[0]).map((p) => ({
          ...p,
          tokens: countTokens(p.text),
        }));
        if (sentences.length > 1) {
          sentences[0] = { ...sentences[0], joiner: unit.joiner };
          queue.splice(end, 1, ...sentences);
          continue;
        }
      }
      break;
    }
    let text = join(first.text, queue, i + 1, end);
    while (end > i + 1 && countTokens(text) > opts.maxTokens) {
      end--;
      text = join(first.text, queue, i + 1, end);
    }
    out.push(text);
    i = end;
  }
  return out;
}

function join(head: string, units: Unit[], from: number, to: number): string {
  let text = head;
  for (let k = from; k < to; k++) text += units[k].joiner + units[k].text;
  return text;
}

const joinerTokenCache = new Map<string, number>();

function joinerTokens(joiner: string): number {
  let n = joinerTokenCache.get(joiner);
  if (n === undefined) {
    n = countTokens(joiner);
    if (joinerTokenCache.size < 64) joinerTokenCache.set(joiner, n);
  }
  return n;
}

function startWithOverlap(previous: string, unit: Unit, opts: ChunkOptions): Unit {
  // Leave room for the joiner, which is at most a couple of tokens; the exact count decides.
  let budget = Math.min(opts.overlapTokens, opts.maxTokens - unit.tokens - 2);
  while (budget > 0) {
    const tail = fittingSuffix(previous, budget);
    if (tail === '') break;
    const text = tail + unit.joiner + unit.text;
    const tokens = countTokens(text);
    if (tokens <= opts.maxTokens) return { text, tokens, joiner: '' };
    budget -= tokens - opts.maxTokens;
  }
  return unit;
}

/**
 * The longest proper suffix of `text` that starts at a word and has at most `budget` tokens.
 * Token counts of suffixes shrink (almost always monotonically) as the start moves right, so a
 * binary search finds it; the result is always checked exactly. Text without spaces (Chinese,
 * Japanese, long identifiers) falls back to code-point starts.
 */
function fittingSuffix(text: string, budget: number): string {
  const wordStarts: number[] = [];
  for (const m of text.matchAll(/(?<=\s)\S/g)) wordStarts.push(m.index);
  const found = longestFitting(text, budget, wordStarts);
  if (found !== '') return found;
  const window = Math.min(text.length - 1, budget * 4);
  const charStarts: number[] = [];
  for (let i = text.length - window; i < text.length; i++) {
    if (i > 0 && !isLowSurrogate(text.charCodeAt(i))) charStarts.push(i);
  }
  return longestFitting(text, budget, charStarts).trimStart();
}

function longestFitting(text: string, budget: number, starts: number[]): string {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (countTokens(text.slice(starts[mid])) <= budget) hi = mid;
    else lo = mid + 1;
  }
  for (let i = lo; i < starts.length; i++) {
    const suffix = text.slice(starts[i]);
    if (suffix.trim() !== '' && countTokens(suffix) <= budget) return suffix;
  }
  return '';
}

interface Level {
  /** Must have exactly one capturing group: the separator, which is kept for rejoining. */
  boundary: RegExp;
  trim: (part: string) => string;
}

/** Finer and finer boundaries; the separators found in the text are what rejoin the pieces. */
const LEVELS: Level[] = [
  // After . ! ? … (and closing quotes or brackets) followed by space, or after CJK full stops,
  // where the separator is empty.
  { boundary: /((?<=[.!?…。！？]["'”’)\]」』]*)\s+|(?<=[。！？]))/u, trim: (s) => s.trim() },
  // Lines keep their indentation: an oversized paragraph is often a code block.
  { boundary: /(\n)/, trim: (s) => s.trimEnd() },
  { boundary: /(\s+)/, trim: (s) => s.trim() },
];

/** Splits at one level; each part carries the separator that preceded it in the source. */
function splitLevel(text: string, level: Level): Array<{ text: string; joiner: string }> {
  const raw = text.split(level.boundary);
  const out: Array<{ text: string; joiner: string }> = [];
  let separator = '';
  for (let i = 0; i < raw.length; i += 2) {
    const part = level.trim(raw[i]);
    if (part.trim() !== '') {
      out.push({ text: part, joiner: out.length === 0 ? '' : separator });
      separator = '';
    }
    separator += raw[i + 1] ?? '';
  }
  return out;
}

/**
 * The token count, or Infinity for text so long it cannot plausibly fit. BPE over one long
 * unbroken run (a line of emoji, a minified blob) costs time quadratic in its length, so such
 * text is split first and counted in pieces. Guessing "too long" wrongly only costs a split.
 */
function tokensIfPlausible(text: string, maxTokens: number): number {
  return text.length > maxTokens * 32 ? Infinity : countTokens(text);
}

function splitOversized(text: string, maxTokens: number, level: number): Unit[] {
  if (level >= LEVELS.length) return hardSplit(text, maxTokens);
  const parts = splitLevel(text, LEVELS[level]);
  if (parts.length <= 1) return splitOversized(text, maxTokens, level + 1);
  const out: Unit[] = [];
  for (const part of parts) {
    const tokens = tokensIfPlausible(part.text, maxTokens);
    if (tokens <= maxTokens) {
      out.push({ ...part, tokens });
    } else {
      const sub = splitOversized(part.text, maxTokens, level + 1);
      sub[0] = { ...sub[0], joiner: part.joiner };
      out.push(...sub);
    }
  }
  return out;
}

/**
 * Longest prefixes that fit, cut between code points; for base64 blobs, hashes and the like. The
 * search runs on a window just wide enough to hold `maxTokens` (see tokensIfPlausible).
 */
function hardSplit(text: string, maxTokens: number): Unit[] {
  const out: Unit[] = [];
  let rest = text;
  while (rest !== '') {
    let window = Math.min(rest.length, maxTokens);
    while (window < rest.length && countTokens(rest.slice(0, window)) <= maxTokens) {
      window = Math.min(rest.length, window * 2);
    }
    const windowText = rest.slice(0, window);
    if (window === rest.length && countTokens(windowText) <= maxTokens) {
      out.push({ text: rest, tokens: countTokens(rest), joiner: '' });
      break;
    }
    let lo = 1;
    let hi = window;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (countTokens(rest.slice(0, mid)) <= maxTokens) lo = mid;
      else hi = mid - 1;
    }
    let end = lo;
    if (isLowSurrogate(rest.charCodeAt(end))) end = end > 1 ? end - 1 : end + 1;
    const piece = rest.slice(0, end);
    out.push({ text: piece, tokens: countTokens(piece), joiner: '' });
    rest = rest.slice(end);
  }
  return out;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

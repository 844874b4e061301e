/**
 * Checks the retrieval evaluation set before anyone trusts numbers computed on it: every corpus
 * document has a `# Title`, at least two `##` sections and 150-600 words; every question names
 * existing documents; lexical and semantic questions are roughly balanced; and no "semantic"
 * question shares a content word with a document it expects (otherwise it tests keyword search,
 * not meaning). Run with `npx ts-node bench/rag/corpus.check.ts`; exits non-zero on any problem.
 * It reads files only and must never change them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface EvalQuestion {
  id: string;
  question: string;
  expected: string[];
  kind: 'lexical' | 'semantic';
}

const ROOT = __dirname;
const CORPUS = join(ROOT, 'corpus');

/** Words that carry no topic: a shared one says nothing about keyword overlap. */
const STOPWORDS = new Set(
  `a about after again all am an and any are as at be been before being but by can could did do does doing
  for from get gets getting got had has have how i if in into is it its just me might more most much must my
  no not of on once or our out over same should so some such than that the their them then there these they
  this those through to too under until up us very was we were what when where whether which while who whom
  why will with would you your yours able also each else ever every here let may off only own per right now
  still want way well yet one two three s t d ll re ve without during long keep say look time mean`.split(
    /\s+/,
  ),
);

function words(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !STOPWORDS.has(w));
}

const SUFFIXES = [
  'ations',
  'ation',
  'ingly',
  'ings',
  'ing',
  'edly',
  'ed',
  'ers',
  'er',
  'ies',
  'es',
  's',
  'ly',
  'ments',
  'ment',
  'als',
  'al',
];

/** Crude suffix stripping: enough to see "rentals" and "rent", or "arrived" and "arrives", as one. */
function stem(word: string): string {
  for (const suffix of SUFFIXES) {
    if (word.length - suffix.length >= 3 && word.endsWith(suffix)) return word.slice(0, -suffix.length);
  }
  return word;
}

/** Same stem, or one stem is a prefix (of at least five letters) of the other: "accident" ~ "accidental". */
function related(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 5 && long.startsWith(short);
}

function main(): void {
  const problems: string[] = [];
  const files = readdirSync(CORPUS)
    .filter((f) => f.endsWith('.md'))
    .sort();
  const docStems = new Map<string, Set<string>>();

  for (const file of files) {
    const text = readFileSync(join(CORPUS, file), 'utf8');
    const count = (text.match(/[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu) ?? []).length;
    if (!/^# \S/.test(text)) problems.push(`${file}: does not start with "# Title"`);
    if ((text.match(/^# /gm) ?? []).length !== 1) problems.push(`${file}: needs exactly one level-1 heading`);
    if ((text.match(/^## \S/gm) ?? []).length < 2) problems.push(`${file}: needs at least two "##" sections`);
    if (count < 150 || count > 600) problems.push(`${file}: ${count} words, expected 150-600`);
    docStems.set(file, new Set(words(text).map(stem)));
  }
  if (files.length < 30) problems.push(`corpus has ${files.length} documents, expected at least 30`);

  const questions = JSON.parse(readFileSync(join(ROOT, 'questions.json'), 'utf8')) as EvalQuestion[];
  const ids = new Set<string>();
  const covered = new Set<string>();
  for (const q of questions) {
    if (!/^q\d{2,}$/.test(q.id) || ids.has(q.id))
      problems.push(`${q.id}: id must be unique and look like q01`);
    ids.add(q.id);
    if (q.kind !== 'lexical' && q.kind !== 'semantic')
      problems.push(`${q.id}: kind must be lexical or semantic`);
    if (!Array.isArray(q.expected) || q.expected.length === 0)
      problems.push(`${q.id}: expected must list documents`);
    for (const doc of q.expected ?? []) {
      if (!docStems.has(doc)) problems.push(`${q.id}: expected document ${doc} does not exist`);
      covered.add(doc);
    }
    const shared = new Set<string>();
    for (const doc of q.expected ?? []) {
      const stems = [...(docStems.get(doc) ?? [])];
      for (const w of words(q.question)) if (stems.some((d) => related(d, stem(w)))) shared.add(w);
    }
    if (q.kind === 'semantic' && shared.size > 0) {
      problems.push(`${q.id}: semantic question shares words with its document: ${[...shared].join(', ')}`);
    }
    if (q.kind === 'lexical' && shared.size < 2) {
      problems.push(`${q.id}: lexical question shares fewer than two words with its document`);
    }
  }
  const semantic = questions.filter((q) => q.kind === 'semantic').length;
  if (questions.length < 45) problems.push(`only ${questions.length} questions, expected at least 45`);
  if (Math.abs(semantic * 2 - questions.length) > questions.length * 0.2) {
    problems.push(`${semantic} of ${questions.length} questions are semantic; expected about half`);
  }
  for (const file of files) if (!covered.has(file)) problems.push(`${file}: no question expects it`);

  console.log(`${files.length} documents, ${questions.length} questions (${semantic} semantic)`);
  for (const p of problems) console.log(`  - ${p}`);
  if (problems.length > 0) process.exit(1);
}

main();

/**
 * Retrieval evaluation and search latency of the knowledge base, on a fresh in-memory embedded
 * PostgreSQL (PGlite with pgvector), through the real ingestion and search services.
 *
 * 1. Quality: ingests bench/rag/corpus, asks every question of questions.json in each mode
 *    (fulltext, vector, hybrid) and reports recall@5 (an expected document among the first five
 *    passages) and MRR@10 (1 / rank of the first passage of an expected document), overall and
 *    by question kind. Embeddings come from the fake OpenAI server of the tests: a signed hashed
 *    bag of words. "vector" here therefore measures the pipeline (embedding, storage, HNSW,
 *    fusion), not the semantic skill of a real embedding model; semantic questions share no
 *    content word with their documents by construction, so a bag of words cannot answer them.
 * 2. Latency: adds synthetic chunks (random text over the corpus vocabulary, random vectors) by
 *    bulk SQL until the knowledge base holds each requested size, and times the questions in each
 *    mode: p50 / p99 in milliseconds and the ratio of each to the smallest size's value, and for
 *    the lexical questions recall@5 and MRR@5 among the noise. A row "fulltext, exhaustive" ranks
 *    every chunk holding any query word (no row budget, no cap): the reference for the top-5
 *    overlap column, which shows what the bounded full-text selection changes.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/rag/eval.ts \
 *     [--sizes 10000,50000] [--dimensions 1536] [--rounds 2] [--quality-only] [--database-url URL]
 *     [--budgets 2000,10000]   (extra full-text rows with these row budgets instead of the configured one)
 *
 * By default it creates and throws away its own embedded database and never touches ./.data or
 * DATABASE_URL. With --database-url it runs against that server instead (give it an empty,
 * throw-away database: the synthetic rows stay); without pgvector there only `fulltext` is timed.
 */
import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import type { RequestContext } from 'src/common/request-context';
import { DatabaseLifecycle } from 'src/database/database.lifecycle';
import { ragConfig, type RagConfig } from 'src/config/rag.config';
import { RagCliModule } from 'src/rag/rag-cli.module';
import { RagCapabilitiesProbe } from 'src/rag/rag.capabilities';
import { IngestionService } from 'src/rag/rag.ingestion.service';
import { KnowledgeRepository, NO_TERM_STATISTICS, type TermStatistics } from 'src/rag/rag.repository';
import type { SearchMode } from 'src/rag/rag.metrics';
import { SearchService } from 'src/rag/rag.search.service';
import { FakeOpenAI } from 'test/support/fake-openai';
import type { EvalQuestion } from 'bench/rag/corpus.check';

const MODES: SearchMode[] = ['fulltext', 'vector', 'hybrid'];
const ROOT = __dirname;

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,50000' },
    dimensions: { type: 'string', default: '1536' },
    rounds: { type: 'string', default: '2' },
    'quality-only': { type: 'boolean', default: false },
    'database-url': { type: 'string' },
    budgets: { type: 'string', default: '' },
  },
});
const SIZES = opts.sizes
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => n > 0);
const DIMENSIONS = Number(opts.dimensions);
const ROUNDS = Number(opts.rounds);
/** Extra full-text rows with other RAG_FULLTEXT_ROW_BUDGET values, to show the trade-off. */
const BUDGETS = opts.budgets
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => n > 0);

const anyone: RequestContext = { userId: 'bench', isAdmin: false, requestId: 'bench', metadata: {} };

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

async function main(): Promise<void> {
  const fake = await FakeOpenAI.start();
  delete process.env.DATABASE_URL;
  if (opts['database-url']) process.env.DATABASE_URL = opts['database-url'];
  Object.assign(process.env, {
    NODE_ENV: 'test',
    EMBEDDED_DATA_DIR: 'memory://',
    RAG_EMBEDDINGS_MODEL: 'fake-hashed-bag-of-words',
    RAG_EMBEDDINGS_BASE_URL: fake.baseURL,
    RAG_EMBEDDINGS_API_KEY: 'unused',
    RAG_EMBEDDING_DIMENSIONS: String(DIMENSIONS),
    RAG_SEED_DOCS: 'false',
    DATABASE_STATEMENT_TIMEOUT_MS: '0',
  });
  const app = await NestFactory.createApplicationContext(RagCliModule, { logger: ['error', 'warn'] });
  try {
    await app.init();
    if (!app.get(DatabaseLifecycle).ready) throw new Error('embedded database did not start');
    const ingestion = app.get(IngestionService);
    const search = app.get(SearchService);
    const db = app.get(DataSource);
    const { vectorSearch } = await app.get(RagCapabilitiesProbe).get();
    const modes = vectorSearch ? MODES : MODES.filter((m) => m === 'fulltext');
    const where = opts['database-url'] ? 'PostgreSQL server' : 'embedded PostgreSQL (PGlite)';
    log(`${where}, ${vectorSearch ? `pgvector, ${DIMENSIONS} dimensions` : 'no pgvector: full text only'}`);

    // ---------------------------------------------------------------------------- quality
    const files = readdirSync(join(ROOT, 'corpus'))
      .filter((f) => f.endsWith('.md'))
      .sort();
    const started = performance.now();
    for (const file of files) {
      await ingestion.ingest({
        orgId: '',
        buffer: readFileSync(join(ROOT, 'corpus', file)),
        filename: file,
        source: file,
      });
    }
    const [{ n: corpusChunks }]: Array<{ n: string }> = await db.query(`SELECT count(*) AS n FROM chunks`);
    log(
      `ingested ${files.length} documents (${corpusChunks} chunks) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    const questions = JSON.parse(readFileSync(join(ROOT, 'questions.json'), 'utf8')) as EvalQuestion[];
    const quality: string[] = [
      '| mode | recall@5 (all) | MRR@10 (all) | recall@5 lexical | MRR@10 lexical | recall@5 semantic | MRR@10 semantic |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const mode of modes) {
      const scores = {
        all: [] as Array<[number, number]>,
        lexical: [] as Array<[number, number]>,
        semantic: [] as Array<[number, number]>,
      };
      for (const q of questions) {
        const { results } = await search.query(anyone, { q: q.question, limit: 10, mode });
        const rank = results.findIndex((r) => q.expected.includes(r.source)) + 1;
        const score: [number, number] = [rank >= 1 && rank <= 5 ? 1 : 0, rank >= 1 ? 1 / rank : 0];
        scores.all.push(score);
        scores[q.kind].push(score);
      }
      const mean = (xs: Array<[number, number]>, i: 0 | 1) =>
        (xs.reduce((s, x) => s + x[i], 0) / xs.length).toFixed(3);
      quality.push(
        `| ${mode} | ${mean(scores.all, 0)} | ${mean(scores.all, 1)} | ${mean(scores.lexical, 0)} | ${mean(scores.lexical, 1)} | ${mean(scores.semantic, 0)} | ${mean(scores.semantic, 1)} |`,
      );
    }
    process.stdout.write(
      `\nRetrieval quality (${where}): ${files.length} documents, ${corpusChunks} chunks, ${questions.length} questions ` +
        `(${questions.filter((q) => q.kind === 'lexical').length} lexical, ${questions.filter((q) => q.kind === 'semantic').length} semantic), ` +
        `fake embeddings of ${DIMENSIONS} dimensions\n\n${quality.join('\n')}\n`,
    );
    if (opts['quality-only'] || SIZES.length === 0) return;

    // ---------------------------------------------------------------------------- latency
    const vocabulary = buildVocabulary(files.map((f) => readFileSync(join(ROOT, 'corpus', f), 'utf8')));
    const latency: Array<{
      size: number;
      mode: string;
      p50: number;
      p99: number;
      recall: number;
      mrr: number;
      overlap: number;
    }> = [];
    const lexical = questions.filter((q) => q.kind === 'lexical');
    const repository = app.get(KnowledgeRepository);
    const ragConfigValues = app.get<RagConfig>(ragConfig.KEY);
    let total = Number(corpusChunks);
    for (const size of SIZES.sort((a, b) => a - b)) {
      const loadStarted = performance.now();
      // A bulk load goes faster into a table without the HNSW index, built once afterwards.
      if (vectorSearch) await db.query(`DROP INDEX IF EXISTS idx_chunks_embedding`);
      total = await addSyntheticChunks(db, vocabulary, total, size, vectorSearch);
      const inserted = performance.now();
      if (vectorSearch) {
        await db.query(`SET maintenance_work_mem = '512MB'`);
        await db.query(
          `CREATE INDEX idx_chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)`,
        );
      }
      await db.query(`ANALYZE chunks`);
      search.forgetTermStatistics();
      const indexed = performance.now();
      log(
        `${total} chunks: inserted in ${((inserted - loadStarted) / 1000).toFixed(1)} s` +
          (vectorSearch ? `, HNSW index built in ${((indexed - inserted) / 1000).toFixed(1)} s` : ''),
      );
      // Full text straight through the repository: with no statistics, no budget and no cap it is
      // the exact ranking (every query word selects), the reference for what the bounded
      // selection costs in ranking quality; with statistics and a budget, one point of the sweep.
      const { textSearchConfig } = await app.get(RagCapabilitiesProbe).get();
      const fulltext =
        (termStatistics: TermStatistics, rowBudget: number, scanCap: number | null) => (q: string) =>
          repository.search({
            orgIds: [''],
            text: q,
            websearch: false,
            mode: 'fulltext',
            maxDistance: 1,
            limit: 5,
            candidates: 50,
            textSearchConfig,
            iterativeScan: false,
            termStatistics,
            rowBudget,
            scanCap,
          });
      const exhaustive = fulltext(NO_TERM_STATISTICS, Infinity, null);
      const matched: number[] = [];
      for (const q of questions) {
        const [{ n }]: Array<{ n: string }> = await db.query(
          `SELECT count(*) AS n FROM chunks
            WHERE tsv @@ replace(plainto_tsquery($1::regconfig, $2)::text, ' & ', ' | ')::tsquery`,
          [textSearchConfig, q.question],
        );
        matched.push(Number(n));
      }
      matched.sort((x, y) => x - y);
      log(
        `${total} chunks: a question's words occur in ${percentile(matched, 50)} chunks (median), ` +
          `${matched[matched.length - 1]} at most`,
      );
      const termStatistics = await repository.termStatistics();
      const withBudget = (rowBudget: number) =>
        fulltext(termStatistics, rowBudget, ragConfigValues.fulltextScanCap);
      const cells: Array<[string, (q: string) => Promise<Array<{ chunkId: string; source: string }>>]> = [
        ['fulltext, exhaustive', exhaustive],
        ...BUDGETS.map((b): [string, (q: string) => ReturnType<typeof exhaustive>] => [
          `fulltext, budget ${b}`,
          withBudget(b),
        ]),
        ...modes.map((mode): [string, (q: string) => Promise<Array<{ chunkId: string; source: string }>>] => [
          mode,
          async (q) => (await search.query(anyone, { q, limit: 5, mode })).results,
        ]),
      ];
      const reference = new Map<string, string[]>();
      for (const [label, run] of cells) {
        // One warm-up pass that also records the answers, then ROUNDS timed passes.
        const answers = new Map<string, string[]>();
        const scores: Array<[number, number]> = [];
        let overlap = 0;
        for (const q of lexical) {
          const results = await run(q.question);
          answers.set(
            q.question,
            results.map((r) => r.chunkId),
          );
          const rank = results.findIndex((r) => q.expected.includes(r.source)) + 1;
          scores.push([rank >= 1 ? 1 : 0, rank >= 1 ? 1 / rank : 0]);
        }
        for (const q of questions.filter((x) => x.kind !== 'lexical')) await run(q.question);
        if (label === 'fulltext, exhaustive') {
          for (const [q, ids] of answers) reference.set(q, ids);
        }
        for (const [q, ids] of answers) {
          const expected = reference.get(q) ?? [];
          overlap +=
            expected.length === 0 ? 1 : ids.filter((id) => expected.includes(id)).length / expected.length;
        }
        const times: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          for (const q of questions) {
            const t0 = performance.now();
            await run(q.question);
            times.push(performance.now() - t0);
          }
        }
        times.sort((x, y) => x - y);
        const row = {
          size: total,
          mode: label,
          p50: percentile(times, 50),
          p99: percentile(times, 99),
          recall: scores.reduce((sum, x) => sum + x[0], 0) / scores.length,
          mrr: scores.reduce((sum, x) => sum + x[1], 0) / scores.length,
          overlap: overlap / answers.size,
        };
        latency.push(row);
        log(
          `${total} chunks, ${label}: p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms, ` +
            `lexical recall@5 ${row.recall.toFixed(3)}, MRR@5 ${row.mrr.toFixed(3)}, top-5 overlap ${row.overlap.toFixed(3)}`,
        );
      }
    }
    const rows = [
      '| chunks | mode | p50 ms | p99 ms | p50 / baseline | p99 / baseline | lexical recall@5 | lexical MRR@5 | top-5 overlap with exhaustive full text |',
      '|---|---|---|---|---|---|---|---|---|',
    ];
    const baselineSize = latency[0].size;
    for (const row of latency) {
      const base = latency.find((r) => r.size === baselineSize && r.mode === row.mode)!;
      rows.push(
        `| ${row.size} | ${row.mode} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${(row.p50 / base.p50).toFixed(2)}x | ${(row.p99 / base.p99).toFixed(2)}x | ${row.recall.toFixed(3)} | ${row.mrr.toFixed(3)} | ${row.mode.startsWith('fulltext') ? row.overlap.toFixed(3) : 'n/a'} |`,
      );
    }
    process.stdout.write(
      `\nSearch latency (${where}, limit 5, ${questions.length} questions x ${ROUNDS} rounds per cell, baseline = ${baselineSize} chunks)\n\n${rows.join('\n')}\n`,
    );
  } finally {
    await app.close();
    await fake.close();
  }
}

interface Vocabulary {
  words: string[];
  /** Cumulative Zipf weights, for sampling by rank. */
  cumulative: number[];
}

/** Corpus words by frequency; synthetic text drawn from them shares the queries' words. */
function buildVocabulary(texts: string[]): Vocabulary {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const w of text.toLowerCase().match(/[a-z]{3,}/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const words = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([w]) => w);
  const cumulative: number[] = [];
  let sum = 0;
  for (let rank = 1; rank <= words.length; rank++) cumulative.push((sum += 1 / rank));
  return { words, cumulative };
}

/** Deterministic PRNG (mulberry32), so every run loads the same synthetic text. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(vocabulary: Vocabulary, random: () => number): string {
  const target = random() * vocabulary.cumulative[vocabulary.cumulative.length - 1];
  let lo = 0;
  let hi = vocabulary.cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (vocabulary.cumulative[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return vocabulary.words[lo];
}

const BATCH = 1000;
const CHUNKS_PER_DOCUMENT = 100;

/**
 * Grows the chunks table from `current` to `target` rows: documents of 100 chunks of 80-160
 * words each (about the size of a 400-token chunk), vectors drawn at random inside PostgreSQL.
 */
async function addSyntheticChunks(
  db: DataSource,
  vocabulary: Vocabulary,
  current: number,
  target: number,
  withVectors: boolean,
): Promise<number> {
  const random = prng(current + 1);
  let count = current;
  while (count < target) {
    const [{ id }]: Array<{ id: string }> = await db.query(
      `INSERT INTO documents (org_id, title, source, mime_type, content_hash, byte_size)
       VALUES ('', $1, $2, 'text/markdown', repeat('0', 64), 0) RETURNING id`,
      [`Synthetic ${count}`, `synthetic/${count}.md`],
    );
    const n = Math.min(CHUNKS_PER_DOCUMENT, target - count);
    for (let start = 0; start < n; start += BATCH) {
      const texts: string[] = [];
      const ordinals: number[] = [];
      for (let i = start; i < Math.min(n, start + BATCH); i++) {
        const length = 80 + Math.floor(random() * 80);
        texts.push(Array.from({ length }, () => sample(vocabulary, random)).join(' '));
        ordinals.push(i);
      }
      await db.query(
        `INSERT INTO chunks (id, document_id, org_id, ordinal, heading_path, text, token_count, content_hash,
                             search_text, text_search_config, tsv${withVectors ? ', embedding' : ''})
         SELECT gen_random_uuid(), $1, '', u.ordinal, '[]', u.text, 120, md5(u.text) || md5(u.text),
                u.text, 'english', to_tsvector('english', u.text)
                ${withVectors ? ', (SELECT array_agg(random() - 0.5)::vector FROM generate_series(1, $4) WHERE u.ordinal >= 0)' : ''}
           FROM unnest($2::int[], $3::text[]) AS u(ordinal, text)`,
        withVectors ? [id, ordinals, texts, DIMENSIONS] : [id, ordinals, texts],
      );
    }
    await db.query(`UPDATE documents SET chunk_count = $2 WHERE id = $1`, [id, n]);
    count += n;
    if (count % 10_000 === 0) log(`  ${count} chunks`);
  }
  return count;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

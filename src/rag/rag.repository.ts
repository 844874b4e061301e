/**
 * All SQL of the knowledge base: documents and chunks, the atomic replacement of a document's
 * chunks, hybrid search (full-text rank and vector distance fused by reciprocal rank in one
 * statement) and the embedding backfill.
 *
 * Every read is scoped to a set of org ids the caller computed from the RequestContext (the
 * caller's org plus '' for global documents); nothing here decides who may see what. Text-search
 * configuration names and vectors are always bound as parameters, never spliced into SQL.
 *
 * Plain reads and writes go through the repositories of DocumentEntity and ChunkEntity. SQL is
 * written out where a repository cannot say it: the upsert that tells a new document from an
 * existing one, the bulk chunk insert that builds the tsvector, keyset pages, search, planner
 * statistics, and everything touching `embedding`, a column no entity declares (see
 * src/rag/chunk.entity.ts). A transaction runs on its own manager only.
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Not, Repository, type EntityManager } from 'typeorm';
import { ChunkEntity } from 'src/rag/chunk.entity';
import { DocumentEntity } from 'src/rag/document.entity';
import type { SearchMode } from 'src/rag/rag.metrics';

export interface DocumentRecord {
  id: string;
  orgId: string;
  title: string;
  source: string;
  mimeType: string;
  contentHash: string;
  byteSize: number;
  chunkCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface DocumentWrite {
  orgId: string;
  title: string;
  source: string;
  mimeType: string;
  contentHash: string;
  byteSize: number;
}

export interface ChunkWrite {
  id: string;
  ordinal: number;
  headingPath: string[];
  text: string;
  tokenCount: number;
  contentHash: string;
  /** Title and heading path, then the text: what is indexed and embedded. Must end with `text`. */
  searchText: string;
  /** A pgvector literal, or null to leave the chunk for the backfill. */
  embedding: string | null;
}

export interface ReplaceOptions {
  textSearchConfig: string;
  vectorColumn: boolean;
  /** Rewrite the chunks even when the content and title did not change. */
  force?: boolean;
}

export type ReplaceResult =
  | { status: 'created' | 'updated'; document: DocumentRecord }
  | { status: 'unchanged'; document: DocumentRecord };

export interface SearchQuery {
  orgIds: string[];
  text: string;
  /** websearch_to_tsquery semantics (quotes, OR, -word) instead of "any of these words". */
  websearch: boolean;
  mode: SearchMode;
  /** Required for the vector and hybrid modes. */
  vector?: string;
  /** Vector hits further than this cosine distance are dropped. */
  maxDistance: number;
  limit: number;
  candidates: number;
  textSearchConfig: string;
  /** pgvector ≥ 0.8: let the HNSW scan continue past rows the org filter drops. */
  iterativeScan: boolean;
  /** How often the indexed lexemes occur (see termStatistics); no lexemes: every word selects. */
  termStatistics: TermStatistics;
  /**
   * Estimated rows the selecting words may match together: query words are taken rarest first
   * while their estimated matches stay within this budget (always at least the rarest one); the
   * others only rank. Infinity: every word selects.
   */
  rowBudget: number;
  /** Most rows one full-text selection ranks; null: no limit (the exact, unbounded ranking). */
  scanCap: number | null;
}

/**
 * Lexeme frequencies from the planner's statistics of `chunks.tsv`: the most common lexemes with
 * the fraction of chunks containing each, and the table's row estimate. `unlisted` is the fraction
 * assumed for a lexeme missing from the list: half the smallest listed one, as PostgreSQL assumes.
 */
export interface TermStatistics {
  rows: number;
  lexemes: string[];
  frequencies: number[];
  unlisted: number;
}

export const NO_TERM_STATISTICS: TermStatistics = { rows: 0, lexemes: [], frequencies: [], unlisted: 0 };

export interface SearchRow {
  chunkId: string;
  documentId: string;
  title: string;
  source: string;
  headingPath: string[];
  text: string;
  score: number;
  snippet: string;
}

export interface PageOfDocuments {
  data: DocumentRecord[];
  hasMore: boolean;
  after: string | null;
}

/** Reciprocal rank fusion constant, as in Cormack et al.: dampens the weight of the top ranks. */
export const RRF_K = 60;

/**
 * Full-text rank: ts_rank (term frequency) rather than ts_rank_cd (cover density), because the
 * default query is "any of these words" and cover density rewards one repeated word over many
 * different ones; title and headings (weight A) count twice the body (D); normalisation 1
 * divides by 1 + log(length) so long chunks do not win by size. Chosen on bench/rag/eval.ts
 * (lexical questions: MRR@10 0.89 with ts_rank_cd and the default weights, 1.00 with this).
 */
const FULLTEXT_RANK = (tsv: string, query: string) => `ts_rank('{0.1, 0.2, 0.2, 0.2}', ${tsv}, ${query}, 1)`;

const CHUNK_INSERT_BATCH = 200;

const DOCUMENT_COLUMNS = `id, org_id, title, source, mime_type, content_hash, byte_size, chunk_count, created_at, updated_at`;

interface DocumentRow {
  id: string;
  org_id: string;
  title: string;
  source: string;
  mime_type: string;
  content_hash: string;
  byte_size: string | number;
  chunk_count: number;
  created_at: Date;
  updated_at: Date;
}

function fromEntity(row: DocumentEntity): DocumentRecord {
  return {
    id: row.id,
    orgId: row.orgId,
    title: row.title,
    source: row.source,
    mimeType: row.mimeType,
    contentHash: row.contentHash.trim(),
    byteSize: row.byteSize,
    chunkCount: row.chunkCount,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** A row given back by written-out SQL, in column names. */
function toDocument(row: DocumentRow): DocumentRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    title: row.title,
    source: row.source,
    mimeType: row.mime_type,
    contentHash: row.content_hash.trim(),
    byteSize: Number(row.byte_size),
    chunkCount: row.chunk_count,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/**
 * The tsvector of a chunk: title and headings weighted A, the body unweighted (D). The heading
 * part is whatever `search_text` holds before the body.
 */
function tsvectorSql(config: string, searchText: string, text: string): string {
  return (
    `setweight(to_tsvector(${config}::regconfig, left(${searchText}, length(${searchText}) - length(${text}))), 'A')` +
    ` || to_tsvector(${config}::regconfig, ${text})`
  );
}

/** The query as a tsquery: the user's web-search syntax, or any of the words (ranked by how many). */
function tsquerySql(config: string, text: string, websearch: string): string {
  return (
    `CASE WHEN ${websearch}::boolean THEN websearch_to_tsquery(${config}::regconfig, ${text})` +
    ` ELSE replace(plainto_tsquery(${config}::regconfig, ${text})::text, ' & ', ' | ')::tsquery END`
  );
}

/**
 * The rows worth ranking on a large knowledge base, as a tsquery: the chunks containing a rare
 * query word, or two of the common ones. Each candidate term (one lexeme, or two joined by AND) is
 * priced by its estimated matches from the term statistics (frequency x rows; a pair assumes its
 * words independent), and terms are taken cheapest first while the running total stays within the
 * budget, the cheapest always. A chunk with one common word ranks below almost every chunk with
 * several, so leaving the first kind out loses little and saves ranking most of the table. Pairs
 * come from the query's 16 rarest lexemes; a pair whose word is taken on its own adds nothing and
 * is dropped. NULL when every word fits the budget on its own (or the query has no lexeme): the
 * whole query selects. Lexemes are quoted as tsquery literals (quotes doubled, backslashes escaped).
 */
function selectingTsquerySql(config: string, text: string, stats: Record<StatsParam, string>): string {
  const quoted = (lex: string) => `'''' || replace(replace(${lex}, '\\', '\\\\'), '''', '''''') || ''''`;
  return `(WITH l AS (
              SELECT l.lex, coalesce(f.freq, ${stats.unlisted}::float8) AS freq,
                     row_number() OVER (ORDER BY coalesce(f.freq, ${stats.unlisted}::float8), l.lex) AS rarity
                FROM unnest(tsvector_to_array(to_tsvector(${config}::regconfig, ${text}))) AS l(lex)
                LEFT JOIN unnest(${stats.lexemes}::text[], ${stats.frequencies}::float8[]) AS f(lex, freq)
                  ON f.lex = l.lex),
            terms AS (
              SELECT l.lex AS a, NULL::text AS b, l.freq FROM l
              UNION ALL
              SELECT x.lex, y.lex, x.freq * y.freq FROM l x JOIN l y ON x.rarity < y.rarity WHERE y.rarity <= 16),
            chosen AS (
              SELECT a, b FROM (
                SELECT a, b, row_number() OVER w AS n, sum(freq) OVER w * ${stats.rows}::float8 AS matches
                  FROM terms WINDOW w AS (ORDER BY freq, a, b NULLS FIRST)) t
               WHERE t.n = 1 OR t.matches <= ${stats.budget}::float8)
          SELECT string_agg(CASE WHEN c.b IS NULL THEN ${quoted('c.a')}
                                 ELSE '(' || ${quoted('c.a')} || ' & ' || ${quoted('c.b')} || ')' END, ' | ')::tsquery
            FROM chosen c
           WHERE (SELECT sum(freq) FROM l) * ${stats.rows}::float8 > ${stats.budget}::float8
             AND (c.b IS NULL OR NOT EXISTS (SELECT 1 FROM chosen s WHERE s.b IS NULL AND s.a IN (c.a, c.b))))`;
}

type StatsParam = 'lexemes' | 'frequencies' | 'rows' | 'unlisted' | 'budget';

@Injectable()
export class KnowledgeRepository {
  constructor(
    @InjectRepository(DocumentEntity) private readonly documents: Repository<DocumentEntity>,
    @InjectRepository(ChunkEntity) private readonly chunks: Repository<ChunkEntity>,
  ) {}

  private get db(): EntityManager {
    return this.documents.manager;
  }

  async findDocument(orgId: string, source: string): Promise<DocumentRecord | undefined> {
    const row = await this.documents.findOneBy({ orgId, source });
    return row ? fromEntity(row) : undefined;
  }

  /** Embeddings already stored for the current version of a document, by chunk content hash. */
  async storedEmbeddings(documentId: string): Promise<Map<string, string>> {
    const rows: Array<{ content_hash: string; embedding: string }> = await this.db.query(
      `SELECT content_hash, embedding::text AS embedding FROM chunks
        WHERE document_id = $1 AND embedding IS NOT NULL`,
      [documentId],
    );
    return new Map(rows.map((r) => [r.content_hash.trim(), r.embedding]));
  }

  /**
   * Creates the document or replaces its chunks, in one transaction: readers see the old chunks
   * or the new ones, never a mix, and a failure leaves the previous version in place. The upsert
   * locks the document row, so two ingestions of one source run one after the other.
   */
  async replaceDocument(
    doc: DocumentWrite,
    chunks: (documentId: string) => ChunkWrite[],
    options: ReplaceOptions,
  ): Promise<ReplaceResult> {
    return this.db.transaction(async (manager) => {
      const [row]: Array<DocumentRow & { inserted: boolean }> = await manager.query(
        `INSERT INTO documents (org_id, source, title, mime_type, content_hash, byte_size)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (org_id, source) DO UPDATE SET updated_at = documents.updated_at
         RETURNING ${DOCUMENT_COLUMNS}, (xmax = 0) AS inserted`,
        [doc.orgId, doc.source, doc.title, doc.mimeType, doc.contentHash, doc.byteSize],
      );
      const existing = toDocument(row);
      if (
        !row.inserted &&
        !options.force &&
        existing.contentHash === doc.contentHash &&
        existing.title === doc.title
      ) {
        return { status: 'unchanged', document: existing };
      }
      if (!row.inserted) await manager.getRepository(ChunkEntity).delete({ documentId: existing.id });
      const written = chunks(existing.id);
      await this.insertChunks(manager, existing.id, doc.orgId, written, options);
      // A new document keeps the updated_at it was created with.
      const result = await manager
        .getRepository(DocumentEntity)
        .createQueryBuilder()
        .update()
        .set({
          title: doc.title,
          mimeType: doc.mimeType,
          contentHash: doc.contentHash,
          byteSize: doc.byteSize,
          chunkCount: written.length,
          ...(row.inserted ? {} : { updatedAt: () => 'now()' }),
        })
        .where({ id: existing.id })
        .returning(DOCUMENT_COLUMNS)
        .updateEntity(false)
        .execute();
      const [updated] = result.raw as DocumentRow[];
      return { status: row.inserted ? 'created' : 'updated', document: toDocument(updated) };
    });
  }

  private async insertChunks(
    manager: EntityManager,
    documentId: string,
    orgId: string,
    chunks: ChunkWrite[],
    options: ReplaceOptions,
  ): Promise<void> {
    const withVector = options.vectorColumn;
    for (let start = 0; start < chunks.length; start += CHUNK_INSERT_BATCH) {
      const batch = chunks.slice(start, start + CHUNK_INSERT_BATCH);
      const params: unknown[] = [
        documentId,
        orgId,
        options.textSearchConfig,
        batch.map((c) => c.id),
        batch.map((c) => c.ordinal),
        batch.map((c) => JSON.stringify(c.headingPath)),
        batch.map((c) => c.text),
        batch.map((c) => c.tokenCount),
        batch.map((c) => c.contentHash),
        batch.map((c) => c.searchText),
      ];
      if (withVector) params.push(batch.map((c) => c.embedding));
      await manager.query(
        `INSERT INTO chunks (id, document_id, org_id, ordinal, heading_path, text, token_count, content_hash,
                             search_text, text_search_config, tsv${withVector ? ', embedding' : ''})
         SELECT u.id, $1, $2, u.ordinal, u.heading_path, u.text, u.token_count, u.content_hash,
                u.search_text, $3::varchar, ${tsvectorSql('$3', 'u.search_text', 'u.text')}
                ${withVector ? ', u.embedding::vector' : ''}
           FROM unnest($4::uuid[], $5::int[], $6::jsonb[], $7::text[], $8::int[], $9::text[], $10::text[]
                       ${withVector ? ', $11::text[]' : ''})
                AS u(id, ordinal, heading_path, text, token_count, content_hash, search_text
                     ${withVector ? ', embedding' : ''})`,
        params,
      );
    }
  }

  async listDocuments(orgId: string, limit: number, after?: string): Promise<PageOfDocuments> {
    const params: unknown[] = [orgId, limit + 1];
    let cursor = '';
    if (after) {
      params.push(after);
      cursor = `AND (created_at, id) < (SELECT created_at, id FROM documents WHERE id = $3::uuid AND org_id = $1)`;
    }
    // Keyset page on idx_documents_org_created.
    const rows: DocumentRow[] = await this.db.query(
      `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE org_id = $1 ${cursor}
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      params,
    );
    const data = rows.slice(0, limit).map(toDocument);
    const hasMore = rows.length > limit;
    return { data, hasMore, after: hasMore ? data[data.length - 1].id : null };
  }

  async documentExists(orgId: string, id: string): Promise<boolean> {
    return this.documents.existsBy({ id, orgId });
  }

  /** Deletes the document and (by cascade) its chunks; false when the org has no such document. */
  async deleteDocument(orgId: string, id: string): Promise<boolean> {
    const result = await this.documents.delete({ id, orgId });
    return (result.affected ?? 0) > 0;
  }

  async search(query: SearchQuery): Promise<SearchRow[]> {
    const params: unknown[] = [];
    const p = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const config = p(query.textSearchConfig);
    const orgs = p(query.orgIds);
    const candidates = p(query.candidates);
    const useText = query.mode !== 'vector';
    const useVector = query.mode !== 'fulltext';
    if (useVector && !query.vector) throw new Error(`${query.mode} search needs a query vector`);

    const limit = p(query.limit);
    const text = p(query.text);
    // `query` ranks and highlights; `match` picks the rows to rank. On a large knowledge base the
    // words many chunks contain are left out of `match` (ranking every chunk that says "team"
    // costs more than the rest of the search): the rarest words select within a row budget, and
    // the rest select only when the rarest find fewer than `limit` rows.
    const websearch = p(query.websearch);
    const stats = query.termStatistics;
    const prune = !query.websearch && stats.lexemes.length > 0 && Number.isFinite(query.rowBudget);
    const match = prune
      ? `coalesce(${selectingTsquerySql(config, text, {
          lexemes: p(stats.lexemes),
          frequencies: p(stats.frequencies),
          rows: p(stats.rows),
          unlisted: p(stats.unlisted),
          budget: p(query.rowBudget),
        })}, s.query)`
      : 's.query';
    const ctes = [
      `q AS (SELECT s.query, ${match} AS match FROM (SELECT ${tsquerySql(config, text, websearch)} AS query) s)`,
    ];
    if (useText) {
      // The cap bounds the work of a query whose selecting words are still very common: which
      // rows it keeps is then arbitrary, but such a query has no strong match to lose.
      const cap = query.scanCap === null ? '' : `LIMIT ${p(query.scanCap)}`;
      const ranked = (where: string) => `SELECT c.id, ${FULLTEXT_RANK('c.tsv', 'q.query')} AS raw
                  FROM (SELECT c.id, c.tsv FROM chunks c, q
                         WHERE c.org_id = ANY(${orgs}::varchar[]) AND ${where} ${cap}) c, q
                 ORDER BY raw DESC, c.id LIMIT ${candidates}`;
      ctes.push(`fts_main AS (${ranked('c.tsv @@ q.match')})`);
      ctes.push(
        `fts_rest AS (${ranked(
          `(SELECT match <> query FROM q) AND (SELECT count(*) FROM fts_main) < ${limit}
           AND c.tsv @@ q.query AND NOT c.tsv @@ q.match`,
        )})`,
      );
      ctes.push(`fts AS (
        SELECT s.id, row_number() OVER (ORDER BY s.raw DESC, s.id) AS rank, s.raw
          FROM (SELECT * FROM fts_main UNION ALL SELECT * FROM fts_rest) s)`);
    }
    if (useVector) {
      const vector = p(query.vector);
      ctes.push(`vec AS (
        SELECT s.id, row_number() OVER (ORDER BY s.distance, s.id) AS rank, 1 - s.distance AS raw
          FROM (SELECT c.id, c.embedding <=> ${vector}::vector AS distance
                  FROM chunks c
                 WHERE c.org_id = ANY(${orgs}::varchar[]) AND c.embedding IS NOT NULL
                 ORDER BY distance LIMIT ${candidates}) s
         WHERE s.distance <= ${p(query.maxDistance)})`);
    }
    if (useText && useVector) {
      // Equal fused scores (a rank-1 word match against a rank-1 neighbour) go to the word match:
      // an exact term is the stronger evidence.
      ctes.push(`ranked AS (
        SELECT id, sum(1.0 / (${RRF_K} + rank))::float8 AS score, min(fts_rank) AS fts_rank
          FROM (SELECT id, rank, rank AS fts_rank FROM fts
                UNION ALL SELECT id, rank, NULL FROM vec) u
         GROUP BY id ORDER BY score DESC, fts_rank NULLS LAST, id LIMIT ${limit})`);
    } else {
      ctes.push(
        `ranked AS (SELECT id, raw::float8 AS score, rank AS fts_rank FROM ${useText ? 'fts' : 'vec'}
                     ORDER BY rank LIMIT ${limit})`,
      );
    }
    // The snippet is built from HTML-escaped text, so only the <mark> tags are markup.
    const escaped = `replace(replace(replace(c.text, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')`;
    const sql = `WITH ${ctes.join(',\n')}
      SELECT c.id AS chunk_id, c.document_id, d.title, d.source, c.heading_path, c.text, r.score,
             ts_headline(${config}::regconfig, ${escaped}, q.query,
                         'StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "') AS snippet
        FROM ranked r JOIN chunks c ON c.id = r.id JOIN documents d ON d.id = c.document_id, q
       ORDER BY r.score DESC, r.fts_rank NULLS LAST, c.id`;

    type Row = {
      chunk_id: string;
      document_id: string;
      title: string;
      source: string;
      heading_path: string[];
      text: string;
      score: number;
      snippet: string;
    };
    const run = async (db: Pick<EntityManager, 'query'>): Promise<Row[]> => db.query(sql, params);
    let rows: Row[];
    if (useVector && query.iterativeScan) {
      rows = await this.db.transaction(async (manager) => {
        // Without this an HNSW scan returns ef_search rows before the org filter, which can leave
        // an org with few documents short of results.
        await manager.query(
          `SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', $1, true)`,
          [String(Math.min(1000, Math.max(40, query.candidates)))],
        );
        return run(manager);
      });
    } else {
      rows = await run(this.db);
    }
    return rows.map((r) => ({
      chunkId: r.chunk_id,
      documentId: r.document_id,
      title: r.title,
      source: r.source,
      headingPath: r.heading_path,
      text: r.text,
      score: Number(r.score),
      snippet: r.snippet,
    }));
  }

  /**
   * The most common lexemes of `tsv` with the fraction of chunks containing each, from the
   * planner's statistics (ANALYZE samples them; `most_common_elem_freqs` lists one frequency per
   * lexeme, then the minimum, the maximum and the null fraction), and the table's row estimate.
   * Empty without statistics.
   */
  async termStatistics(): Promise<TermStatistics> {
    const rows: Array<{ reltuples: number; elems: string[] | null; freqs: number[] | null }> =
      await this.db.query(
        `SELECT c.reltuples::float8 AS reltuples, s.most_common_elems::text::text[] AS elems,
                s.most_common_elem_freqs AS freqs
           FROM pg_class c
           LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'chunks' AND s.attname = 'tsv'
          WHERE c.oid = to_regclass('chunks')`,
      );
    const row = rows[0];
    if (!row || !(row.reltuples > 0) || !row.elems?.length || !row.freqs) return NO_TERM_STATISTICS;
    const frequencies = row.elems.map((_, i) => Number(row.freqs![i]));
    return {
      rows: row.reltuples,
      lexemes: row.elems,
      frequencies,
      unlisted: Math.min(...frequencies) / 2,
    };
  }

  /** Collects planner statistics (and the lexeme frequencies above) after a bulk load. */
  async analyze(): Promise<void> {
    await this.db.query(`ANALYZE chunks`);
  }

  // ------------------------------------------------------------------------------ maintenance

  /** Chunks without a vector, in id order after `afterId`. */
  async chunksWithoutEmbedding(
    limit: number,
    afterId?: string,
  ): Promise<Array<{ id: string; searchText: string }>> {
    const rows: Array<{ id: string; search_text: string }> = await this.db.query(
      `SELECT id, search_text FROM chunks
        WHERE embedding IS NULL AND ($2::uuid IS NULL OR id > $2::uuid)
        ORDER BY id LIMIT $1`,
      [limit, afterId ?? null],
    );
    return rows.map((r) => ({ id: r.id, searchText: r.search_text }));
  }

  async countChunksWithoutEmbedding(): Promise<number> {
    const [row]: Array<{ n: string }> = await this.db.query(
      `SELECT count(*) AS n FROM chunks WHERE embedding IS NULL`,
    );
    return Number(row.n);
  }

  async setEmbeddings(rows: Array<{ id: string; embedding: string }>): Promise<void> {
    await this.db.query(
      `UPDATE chunks SET embedding = u.embedding::vector
         FROM unnest($1::uuid[], $2::text[]) AS u(id, embedding) WHERE chunks.id = u.id`,
      [rows.map((r) => r.id), rows.map((r) => r.embedding)],
    );
  }

  async countChunksIndexedWithOtherConfig(config: string): Promise<number> {
    return this.chunks.countBy({ textSearchConfig: Not(config) });
  }

  /** Rebuilds the tsvector of up to `limit` chunks indexed with another configuration. */
  async reindexText(config: string, limit: number): Promise<number> {
    const rows: unknown[] = await this.db.query(
      `WITH u AS (
         UPDATE chunks SET tsv = ${tsvectorSql('$1', 'search_text', 'text')}, text_search_config = $1::varchar
          WHERE id IN (SELECT id FROM chunks WHERE text_search_config <> $1::varchar LIMIT $2)
         RETURNING id)
       SELECT id FROM u`,
      [config, limit],
    );
    return rows.length;
  }
}

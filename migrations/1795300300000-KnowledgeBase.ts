/**
 * The knowledge base: documents and their chunks, with a full-text index and, where the server
 * has pgvector, an embedding column with an HNSW index.
 *
 * - `tsv` is an ordinary column the application fills on insert with RAG_TEXT_SEARCH_CONFIG, not a
 *   generated one: a generated column would freeze the language into the schema. Each row records
 *   the configuration it was built with, so `npm run rag:backfill` can rebuild rows after the
 *   setting changes.
 * - pgvector is optional. Servers without it (many managed and CI servers) get no `embedding`
 *   column and search runs on full text only; the app detects that at start-up. The extension is
 *   created inside a savepoint, so a role that may not create extensions does not fail the
 *   migration either.
 * - The vector size is RAG_EMBEDDING_DIMENSIONS (default 1536) at the time this migration runs.
 *   HNSW indexes `vector` columns of at most 2000 dimensions; larger ones are stored unindexed.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

const HNSW_MAX_DIMENSIONS = 2000;

function embeddingDimensions(): number {
  const raw = process.env.RAG_EMBEDDING_DIMENSIONS?.trim();
  if (!raw) return 1536;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 16000) {
    throw new Error(`RAG_EMBEDDING_DIMENSIONS must be an integer in [1, 16000], got "${raw}"`);
  }
  return n;
}

export class KnowledgeBase1795300300000 implements MigrationInterface {
  name = 'KnowledgeBase1795300300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE documents (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        org_id varchar(255) NOT NULL DEFAULT '',
        title text NOT NULL,
        source text NOT NULL,
        mime_type varchar(255) NOT NULL,
        content_hash char(64) NOT NULL,
        byte_size bigint NOT NULL,
        chunk_count integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_documents_org_source UNIQUE (org_id, source)
      )`);
    await q.query(`CREATE INDEX idx_documents_org_created ON documents (org_id, created_at, id)`);

    await q.query(`
      CREATE TABLE chunks (
        id uuid PRIMARY KEY,
        document_id uuid NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        org_id varchar(255) NOT NULL DEFAULT '',
        ordinal integer NOT NULL,
        heading_path jsonb NOT NULL DEFAULT '[]',
        text text NOT NULL,
        token_count integer NOT NULL,
        content_hash char(64) NOT NULL,
        search_text text NOT NULL,
        text_search_config varchar(128) NOT NULL,
        tsv tsvector NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_chunks_document_ordinal UNIQUE (document_id, ordinal)
      )`);
    await q.query(`CREATE INDEX idx_chunks_tsv ON chunks USING gin (tsv)`);
    await q.query(`CREATE INDEX idx_chunks_org ON chunks (org_id)`);

    const [{ available }] = (await q.query(
      `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS available`,
    )) as Array<{ available: boolean }>;
    if (!available) return;
    // Installed on the server but not ours to create (no privilege): full text only.
    if (!(await attempt(q, 'knowledge_base_vector', `CREATE EXTENSION IF NOT EXISTS vector`))) return;
    const dimensions = embeddingDimensions();
    await q.query(`ALTER TABLE chunks ADD COLUMN embedding vector(${dimensions}) NULL`);
    if (dimensions <= HNSW_MAX_DIMENSIONS) {
      await q.query(`CREATE INDEX idx_chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE chunks`);
    await q.query(`DROP TABLE documents`);
    // Dropped only when nothing else uses it (RESTRICT is the default); a failure is not ours.
    await attempt(q, 'knowledge_base_vector_down', `DROP EXTENSION IF EXISTS vector`);
  }
}

/**
 * Runs one statement that may fail without failing the migration. Inside the migration's
 * transaction a failed statement would abort everything after it, so it runs in a savepoint.
 */
async function attempt(q: QueryRunner, savepoint: string, sql: string): Promise<boolean> {
  const inTransaction = q.isTransactionActive;
  if (inTransaction) await q.query(`SAVEPOINT ${savepoint}`);
  try {
    await q.query(sql);
  } catch {
    if (inTransaction) await q.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    return false;
  }
  if (inTransaction) await q.query(`RELEASE SAVEPOINT ${savepoint}`);
  return true;
}

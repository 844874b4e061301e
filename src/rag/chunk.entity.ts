/**
 * A chunk of a document, with its full-text vector. Two parts of the table are the migration's
 * alone, because their shape depends on the server (see migrations/1795300300000-KnowledgeBase.ts):
 * - `embedding vector(N)` exists only where pgvector was available when the migration ran, with
 *   the N it read then; no entity column can be both present and absent, so it is not declared
 *   here, and the schema builder of src/database/schema-diff.ts leaves it alone. It is read and
 *   written by the SQL of KnowledgeRepository only.
 * - the GIN and HNSW indexes, which TypeORM cannot describe: declared with `synchronize: false`.
 */
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, Unique } from 'typeorm';
import { DocumentEntity } from 'src/rag/document.entity';

@Entity({ name: 'chunks' })
@Unique('uq_chunks_document_ordinal', ['documentId', 'ordinal'])
@Index('idx_chunks_org', ['orgId'])
@Index('idx_chunks_tsv', { synchronize: false })
@Index('idx_chunks_embedding', { synchronize: false })
export class ChunkEntity {
  /** Chosen by the ingestion, not by the database (no default). */
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'chunks_pkey' })
  id!: string;

  @Column({ name: 'document_id', type: 'uuid' })
  documentId!: string;

  @ManyToOne(() => DocumentEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'document_id', foreignKeyConstraintName: 'chunks_document_id_fkey' })
  document?: DocumentEntity;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ type: 'integer' })
  ordinal!: number;

  @Column({ name: 'heading_path', type: 'jsonb', default: () => `'[]'` })
  headingPath!: string[];

  @Column({ type: 'text' })
  text!: string;

  @Column({ name: 'token_count', type: 'integer' })
  tokenCount!: number;

  @Column({ name: 'content_hash', type: 'char', length: 64 })
  contentHash!: string;

  @Column({ name: 'search_text', type: 'text' })
  searchText!: string;

  @Column({ name: 'text_search_config', type: 'varchar', length: 128 })
  textSearchConfig!: string;

  /** Built in SQL from search_text and the configuration (KnowledgeRepository), never from here. */
  @Column({ type: 'tsvector', select: false, insert: false, update: false })
  tsv!: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}

/** A knowledge-base document: one per (org, source); '' is the org of global documents. */
import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { bigintAsNumber } from 'src/database/column-transformers';

@Entity({ name: 'documents' })
@Unique('uq_documents_org_source', ['orgId', 'source'])
@Index('idx_documents_org_created', ['orgId', 'createdAt', 'id'])
export class DocumentEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'documents_pkey' })
  id!: string;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ type: 'text' })
  title!: string;

  @Column({ type: 'text' })
  source!: string;

  @Column({ name: 'mime_type', type: 'varchar', length: 255 })
  mimeType!: string;

  @Column({ name: 'content_hash', type: 'char', length: 64 })
  contentHash!: string;

  @Column({ name: 'byte_size', type: 'bigint', transformer: bigintAsNumber })
  byteSize!: number;

  @Column({ name: 'chunk_count', type: 'integer', default: 0 })
  chunkCount!: number;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

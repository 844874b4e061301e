/**
 * A conversation's metadata. Owned by (user_id, org_id); org_id is '' for users outside any org so
 * the owner scope is one index-friendly equality. `metadata` is server-private state and never
 * leaves the server (the wire always shows `{}`).
 *
 * Every entity mirrors migrations/ exactly, constraint names included: the schema is written by
 * the migrations, and test/schema.e2e-spec.ts fails when the entities would generate anything.
 */
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { ThreadMetadata } from 'src/protocol/chatkit.schemas';

@Entity({ name: 'threads' })
@Index('idx_threads_owner_created', ['userId', 'orgId', 'createdAt', 'id'])
export class ThreadEntity {
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'threads_pkey' })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ type: 'text', nullable: true })
  title!: string | null;

  @Column({ type: 'jsonb', default: () => `'{"type": "active"}'` })
  status!: ThreadMetadata['status'];

  @Column({ name: 'allowed_image_domains', type: 'jsonb', nullable: true })
  allowedImageDomains!: string[] | null;

  /** Any JSON object (`any`: TypeORM's update types cannot walk `unknown`). */
  @Column({ type: 'jsonb', default: () => `'{}'` })
  metadata!: Record<string, any>;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

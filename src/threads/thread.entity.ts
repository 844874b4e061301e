/**
 * A conversation's metadata. Owned by (user_id, org_id); org_id is '' for users outside any org so
 * the owner scope is one index-friendly equality. `metadata` is server-private state and never
 * leaves the server (the wire always shows `{}`).
 */
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

@Entity({ name: 'threads' })
@Index('idx_threads_owner_created', ['userId', 'orgId', 'createdAt', 'id'])
export class ThreadEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ type: 'text', nullable: true })
  title!: string | null;

  @Column({ type: 'jsonb', default: () => `'{"type":"active"}'` })
  status!: { type: 'active' | 'locked' | 'closed'; reason?: string };

  @Column({ name: 'allowed_image_domains', type: 'jsonb', nullable: true })
  allowedImageDomains!: string[] | null;

  @Column({ type: 'jsonb', default: () => `'{}'` })
  metadata!: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

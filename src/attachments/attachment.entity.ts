/**
 * An attachment record: who owns it, where its bytes are and how far its upload got. Deleting a
 * thread unlinks its attachments (SET NULL): the app deletes them first, the foreign key only
 * guarantees no record points at a thread that is gone.
 */
import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from 'src/database/column-transformers';
import { ThreadEntity } from 'src/threads/thread.entity';

/**
 * `pending`: waiting for its bytes; `uploading`: one request holds the claim to send them;
 * `ready`: stored and checked.
 */
export type AttachmentStatus = 'pending' | 'uploading' | 'ready';

@Entity({ name: 'attachments' })
@Check('attachments_status_check', `status IN ('pending', 'uploading', 'ready')`)
// Quota sums and "my attachments" lookups.
@Index('idx_attachments_owner', ['userId', 'orgId', 'createdAt'])
// Thread deletion and the unlinked sweep (thread_id IS NULL).
@Index('idx_attachments_thread', ['threadId'])
// The pending sweep.
@Index('idx_attachments_cleanup', ['status', 'createdAt'])
export class AttachmentEntity {
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'attachments_pkey' })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ name: 'thread_id', type: 'varchar', length: 64, nullable: true })
  threadId!: string | null;

  @ManyToOne(() => ThreadEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'thread_id', foreignKeyConstraintName: 'attachments_thread_id_fkey' })
  thread?: ThreadEntity | null;

  @Column({ type: 'varchar', length: 1024 })
  name!: string;

  @Column({ name: 'mime_type', type: 'varchar', length: 255 })
  mimeType!: string;

  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  size!: number;

  @Column({ type: 'char', length: 64, nullable: true })
  sha256!: string | null;

  @Column({ name: 'storage_kind', type: 'varchar', length: 16 })
  storageKind!: string;

  @Column({ name: 'storage_key', type: 'varchar', length: 512 })
  storageKey!: string;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status!: AttachmentStatus;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;

  @Column({ name: 'ready_at', type: 'timestamptz', nullable: true })
  readyAt!: Date | null;
}

/**
 * One item of a thread. The full item lives in `payload` (JSONB, so new item kinds need no
 * migration); the columns we filter, sort and scope on are typed. The key is (thread_id, id):
 * item ids come partly from the model provider, and scoping the key by thread means no id can
 * ever overwrite an item of another thread. Deleting a thread deletes its items (the cascade).
 */
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ThreadEntity } from 'src/threads/thread.entity';

@Entity({ name: 'thread_items' })
@Index('idx_thread_items_page', ['threadId', 'createdAt', 'id'])
export class ThreadItemEntity {
  @PrimaryColumn({
    name: 'thread_id',
    type: 'varchar',
    length: 64,
    primaryKeyConstraintName: 'thread_items_pkey',
  })
  threadId!: string;

  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'thread_items_pkey' })
  id!: string;

  @ManyToOne(() => ThreadEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'thread_id', foreignKeyConstraintName: 'thread_items_thread_id_fkey' })
  thread?: ThreadEntity;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;
}

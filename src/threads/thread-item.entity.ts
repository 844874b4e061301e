/**
 * One item of a thread. The full item lives in `payload` (JSONB, so new item kinds need no
 * migration); the columns we filter, sort and scope on are typed. The key is (thread_id, id):
 * item ids come partly from the model provider, and scoping the key by thread means no id can
 * ever overwrite an item of another thread.
 */
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

@Entity({ name: 'thread_items' })
@Index('idx_thread_items_page', ['threadId', 'createdAt', 'id'])
export class ThreadItemEntity {
  @PrimaryColumn({ name: 'thread_id', type: 'varchar', length: 64 })
  threadId!: string;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;
}

/** A user's thumbs up/down on an item; one row per (user, org, thread, item), re-voting updates it. */
import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { ThreadEntity } from 'src/threads/thread.entity';

@Entity({ name: 'feedback' })
@Unique('uq_feedback_user_item', ['userId', 'orgId', 'threadId', 'itemId'])
@Check('feedback_kind_check', `kind IN ('positive', 'negative')`)
export class FeedbackEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'feedback_pkey' })
  id!: string;

  @Column({ name: 'thread_id', type: 'varchar', length: 64 })
  threadId!: string;

  /** Deleting a thread deletes its feedback (the cascade). */
  @ManyToOne(() => ThreadEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'thread_id', foreignKeyConstraintName: 'feedback_thread_id_fkey' })
  thread?: ThreadEntity;

  @Column({ name: 'item_id', type: 'varchar', length: 64 })
  itemId!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: 'positive' | 'negative';

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

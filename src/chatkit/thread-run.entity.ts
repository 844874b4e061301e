/**
 * The run lease of a thread (see ThreadRunLock): one row while a response streams on it. A lease
 * never outlives its thread (the cascade).
 */
import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ThreadEntity } from 'src/threads/thread.entity';

@Entity({ name: 'thread_runs' })
export class ThreadRunEntity {
  @PrimaryColumn({
    name: 'thread_id',
    type: 'varchar',
    length: 64,
    primaryKeyConstraintName: 'thread_runs_pkey',
  })
  threadId!: string;

  @ManyToOne(() => ThreadEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'thread_id', foreignKeyConstraintName: 'thread_runs_thread_id_fkey' })
  thread?: ThreadEntity;

  @Column({ type: 'varchar', length: 128 })
  owner!: string;

  @Column({ name: 'acquired_at', type: 'timestamptz', default: () => 'now()' })
  acquiredAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  /** A stop request for the run holding the lease (see RunStops); one older than acquiredAt is stale. */
  @Column({ name: 'stop_requested_at', type: 'timestamptz', nullable: true })
  stopRequestedAt!: Date | null;
}

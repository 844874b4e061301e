/**
 * What one turn spent on one model: the tokens of every call to that model in the turn, summed
 * (see usage.sql.ts for the insert, which runs inside the turn's final statement). `day` is the
 * UTC date of `created_at`, kept as a column so reports group without a time-zone expression.
 * No foreign key to the thread: spent tokens stay counted when the thread is deleted.
 */
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from 'src/database/column-transformers';

@Entity({ name: 'token_usage' })
@Index('idx_token_usage_owner', ['orgId', 'userId', 'createdAt'])
export class TokenUsageEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'token_usage_pkey' })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ name: 'org_id', type: 'varchar', length: 255, default: '' })
  orgId!: string;

  @Column({ name: 'thread_id', type: 'varchar', length: 64 })
  threadId!: string;

  @Column({ type: 'varchar', length: 255 })
  model!: string;

  @Column({ type: 'date' })
  day!: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'input_tokens', type: 'bigint', default: 0, transformer: bigintAsNumber })
  inputTokens!: number;

  @Column({ name: 'cached_input_tokens', type: 'bigint', default: 0, transformer: bigintAsNumber })
  cachedInputTokens!: number;

  @Column({ name: 'output_tokens', type: 'bigint', default: 0, transformer: bigintAsNumber })
  outputTokens!: number;

  @Column({ name: 'reasoning_tokens', type: 'bigint', default: 0, transformer: bigintAsNumber })
  reasoningTokens!: number;

  @Column({ type: 'integer', default: 0 })
  requests!: number;
}

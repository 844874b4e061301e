/**
 * One token budget's counter: a subject (a user within an org, or a whole org: `user_id` '') in
 * one period (a UTC day or month, from `starts`). `used` is what finished turns spent; `reserved`
 * is held for turns admitted and still running, and counts only until `reserved_until` (a replica
 * that dies mid-turn cannot hold budget for ever). QuotaService explains the admission.
 */
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from 'src/database/column-transformers';

@Entity({ name: 'usage_counters' })
export class UsageCounterEntity {
  @PrimaryColumn({ type: 'varchar', length: 8, primaryKeyConstraintName: 'usage_counters_pkey' })
  scope!: string;

  @PrimaryColumn({
    name: 'org_id',
    type: 'varchar',
    length: 255,
    primaryKeyConstraintName: 'usage_counters_pkey',
  })
  orgId!: string;

  @PrimaryColumn({
    name: 'user_id',
    type: 'varchar',
    length: 255,
    primaryKeyConstraintName: 'usage_counters_pkey',
  })
  userId!: string;

  @PrimaryColumn({ type: 'varchar', length: 8, primaryKeyConstraintName: 'usage_counters_pkey' })
  period!: string;

  @PrimaryColumn({ type: 'date', primaryKeyConstraintName: 'usage_counters_pkey' })
  starts!: string;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  budget!: number;

  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  used!: number;

  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  reserved!: number;

  @Column({ name: 'reserved_until', type: 'timestamptz', nullable: true })
  reservedUntil!: Date | null;

  @Column({ name: 'largest_turn', type: 'bigint', default: 0, transformer: bigintAsNumber })
  largestTurn!: number;
}

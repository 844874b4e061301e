/** A background job's lease (see JobLeases): one row while a replica runs the job. */
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'job_leases' })
export class JobLeaseEntity {
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'job_leases_pkey' })
  name!: string;

  @Column({ type: 'varchar', length: 128 })
  holder!: string;

  @Column({ name: 'acquired_at', type: 'timestamptz', default: () => 'now()' })
  acquiredAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}

/**
 * Run-once-at-a-time for background jobs across replicas: a job takes its named lease before it
 * starts and skips (or reports busy) when another replica holds a live one. A holder keeps the
 * lease alive with `extend()` as it makes progress; a replica that dies mid-job leaves a lease that
 * simply expires. Leases live in PostgreSQL, which every replica already shares.
 *
 * It must never hold a connection while a job runs (the embedded database has one), so there are
 * no session advisory locks here: each call is one short statement.
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { JobLeaseEntity } from 'src/database/job-lease.entity';

export interface JobLease {
  /** Pushes the expiry `ttlMs` from now; false when the lease was lost (it expired and was taken). */
  extend(): Promise<boolean>;
  /** Frees the job for any replica; never throws (an unreleased lease expires anyway). */
  release(): Promise<void>;
}

@Injectable()
export class JobLeases {
  private readonly instance = randomUUID();

  constructor(@InjectRepository(JobLeaseEntity) private readonly leases: Repository<JobLeaseEntity>) {}

  /** Takes the job's lease for `ttlMs`, or returns null while another holder's lease is live. */
  async tryAcquire(name: string, ttlMs: number): Promise<JobLease | null> {
    const holder = `${this.instance}:${randomUUID()}`;
    const ttl = `${ttlMs} milliseconds`;
    // Written out: taking a lease is one atomic upsert that succeeds only over an expired one.
    const rows: unknown[] = await this.leases.query(
      `INSERT INTO job_leases (name, holder, acquired_at, expires_at)
       VALUES ($1, $2, now(), now() + $3::interval)
       ON CONFLICT (name) DO UPDATE
         SET holder = EXCLUDED.holder, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
         WHERE job_leases.expires_at < now()
       RETURNING holder`,
      [name, holder, ttl],
    );
    if (!rows.length) return null;
    return {
      extend: async () => {
        const result = await this.leases
          .createQueryBuilder()
          .update()
          .set({ expiresAt: () => 'now() + CAST(:ttl AS interval)' })
          .where({ name, holder })
          .setParameter('ttl', ttl)
          .execute();
        return (result.affected ?? 0) > 0;
      },
      release: async () => {
        await this.leases.delete({ name, holder }).catch(() => undefined);
      },
    };
  }
}

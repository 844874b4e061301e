/**
 * Leases for background jobs that must run on one replica at a time (the attachment cleanup
 * sweep): one row per job while a replica runs it, free again once it is released or expires.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class JobLeases1795300500000 implements MigrationInterface {
  name = 'JobLeases1795300500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE job_leases (
        name varchar(64) CONSTRAINT job_leases_pkey PRIMARY KEY,
        holder varchar(128) NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE job_leases`);
  }
}

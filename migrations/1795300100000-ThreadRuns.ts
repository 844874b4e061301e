/** The per-thread run lease: at most one streaming response per thread, across replicas. */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ThreadRuns1795300100000 implements MigrationInterface {
  name = 'ThreadRuns1795300100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE thread_runs (
        thread_id varchar(64) PRIMARY KEY REFERENCES threads(id) ON DELETE CASCADE,
        owner varchar(128) NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE thread_runs`);
  }
}

/**
 * A stop request on a running answer: set on the thread's run lease by whichever replica is asked
 * to stop it, read by the replica that streams it (notified at once, or by polling the lease).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RunStopRequests1795300510000 implements MigrationInterface {
  name = 'RunStopRequests1795300510000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE thread_runs ADD COLUMN stop_requested_at timestamptz NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE thread_runs DROP COLUMN stop_requested_at`);
  }
}

/** Threads, their items and feedback. */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1795300000000 implements MigrationInterface {
  name = 'InitialSchema1795300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE threads (
        id varchar(64) PRIMARY KEY,
        user_id varchar(255) NOT NULL,
        org_id varchar(255) NOT NULL DEFAULT '',
        title text NULL,
        status jsonb NOT NULL DEFAULT '{"type":"active"}',
        allowed_image_domains jsonb NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_threads_owner_created ON threads (user_id, org_id, created_at, id)`);

    await q.query(`
      CREATE TABLE thread_items (
        thread_id varchar(64) NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
        id varchar(64) NOT NULL,
        user_id varchar(255) NOT NULL,
        org_id varchar(255) NOT NULL DEFAULT '',
        type varchar(64) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        payload jsonb NOT NULL,
        PRIMARY KEY (thread_id, id)
      )`);
    await q.query(`CREATE INDEX idx_thread_items_page ON thread_items (thread_id, created_at, id)`);

    await q.query(`
      CREATE TABLE feedback (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        thread_id varchar(64) NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
        item_id varchar(64) NOT NULL,
        user_id varchar(255) NOT NULL,
        org_id varchar(255) NOT NULL DEFAULT '',
        kind varchar(16) NOT NULL CHECK (kind IN ('positive', 'negative')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_feedback_user_item UNIQUE (user_id, org_id, thread_id, item_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE feedback`);
    await q.query(`DROP TABLE thread_items`);
    await q.query(`DROP TABLE threads`);
  }
}

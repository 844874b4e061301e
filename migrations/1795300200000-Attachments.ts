/**
 * Attachment records, and the table the PostgreSQL storage driver keeps their bytes in. A record
 * outlives nothing: deleting a thread unlinks its attachments (the app deletes them first; the
 * foreign key only guarantees no record points at a thread that is gone).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Attachments1795300200000 implements MigrationInterface {
  name = 'Attachments1795300200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE attachments (
        id varchar(64) PRIMARY KEY,
        user_id varchar(255) NOT NULL,
        org_id varchar(255) NOT NULL DEFAULT '',
        thread_id varchar(64) NULL REFERENCES threads(id) ON DELETE SET NULL,
        name varchar(1024) NOT NULL,
        mime_type varchar(255) NOT NULL,
        size bigint NOT NULL DEFAULT 0,
        sha256 char(64) NULL,
        storage_kind varchar(16) NOT NULL,
        storage_key varchar(512) NOT NULL,
        status varchar(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        ready_at timestamptz NULL
      )`);
    // Quota sums and "my attachments" lookups.
    await q.query(`CREATE INDEX idx_attachments_owner ON attachments (user_id, org_id, created_at)`);
    // Thread deletion and the unlinked sweep (thread_id IS NULL).
    await q.query(`CREATE INDEX idx_attachments_thread ON attachments (thread_id)`);
    // The pending sweep.
    await q.query(`CREATE INDEX idx_attachments_cleanup ON attachments (status, created_at)`);

    await q.query(`
      CREATE TABLE attachment_blobs (
        key varchar(512) PRIMARY KEY,
        bytes bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Uncompressed out-of-line storage lets substring() read one slice without detoasting the
    // whole value, so downloads and Range requests are served in chunks.
    await q.query(`ALTER TABLE attachment_blobs ALTER COLUMN bytes SET STORAGE EXTERNAL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE attachment_blobs`);
    await q.query(`DROP TABLE attachments`);
  }
}

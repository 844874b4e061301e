/**
 * An upload to a two-phase upload URL first claims the attachment (`uploading`), so a second
 * request to the same URL is refused instead of racing the first for the stored bytes.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AttachmentUploadClaims1795300410000 implements MigrationInterface {
  name = 'AttachmentUploadClaims1795300410000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE attachments DROP CONSTRAINT attachments_status_check`);
    await q.query(
      `ALTER TABLE attachments ADD CONSTRAINT attachments_status_check
         CHECK (status IN ('pending', 'uploading', 'ready'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // An upload in flight during a rollback starts again from its URL.
    await q.query(`UPDATE attachments SET status = 'pending' WHERE status = 'uploading'`);
    await q.query(`ALTER TABLE attachments DROP CONSTRAINT attachments_status_check`);
    await q.query(
      `ALTER TABLE attachments ADD CONSTRAINT attachments_status_check CHECK (status IN ('pending', 'ready'))`,
    );
  }
}

/**
 * Attachment bytes kept by the PostgreSQL storage driver. The migration stores `bytes` uncompressed
 * out of line (STORAGE EXTERNAL) so a slice is read without the whole value; TypeORM has no word
 * for that and leaves it alone.
 */
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'attachment_blobs' })
export class AttachmentBlobEntity {
  @PrimaryColumn({ type: 'varchar', length: 512, primaryKeyConstraintName: 'attachment_blobs_pkey' })
  key!: string;

  @Column({ type: 'bytea' })
  bytes!: Buffer;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}

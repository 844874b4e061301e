/**
 * Attachment bytes in the application's own PostgreSQL (table `attachment_blobs`): replicas share
 * them with nothing else to run or back up. The pg driver cannot stream a bytea parameter, so a
 * put holds the whole body in memory — at most `maxBytes`, which the caller sets from
 * CHATKIT_ATTACHMENT_MAX_MB — and writes it in one statement, so a failed put publishes nothing.
 * Reads are streamed in slices (the column is stored uncompressed, so a slice costs only itself).
 * It must never hold a database connection while waiting on the client.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AttachmentStorageError,
  AttachmentStorageErrorCode,
  assertSafeKey,
  assertSafePrefix,
  assertValidRange,
  type AttachmentStorage,
  type ByteRange,
  type PutObjectOptions,
  type PutObjectResult,
  type StoredObjectInfo,
} from 'src/attachments/storage/attachment-storage';
import { HashingLimitStream } from 'src/attachments/storage/hashing.stream';

/** The one thing the driver needs from TypeORM's DataSource (or a pg pool wrapper in tests). */
export interface SqlRunner {
  query(sql: string, params?: unknown[]): Promise<any>;
}

export interface PostgresStorageOptions {
  db: SqlRunner;
  /** Bytes per read statement when streaming a download. */
  chunkBytes?: number;
}

const DEFAULT_CHUNK = 1024 * 1024;
const LIST_PAGE = 500;

export class PostgresAttachmentStorage implements AttachmentStorage {
  readonly kind = 'postgres' as const;
  private readonly db: SqlRunner;
  private readonly chunkBytes: number;

  constructor(opts: PostgresStorageOptions) {
    this.db = opts.db;
    this.chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK;
    if (!Number.isSafeInteger(this.chunkBytes) || this.chunkBytes < 1) {
      throw new RangeError('chunkBytes must be a positive integer');
    }
  }

  async put(key: string, body: Readable, opts: PutObjectOptions): Promise<PutObjectResult> {
    assertSafeKey(key);
    const limits = { maxBytes: opts.maxBytes, expectedSize: opts.size };
    HashingLimitStream.checkAnnouncedSize(limits);
    const hasher = new HashingLimitStream(limits);
    const chunks: Buffer[] = [];
    await pipeline(
      body,
      hasher,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          callback();
        },
      }),
    );
    const result = hasher.result();
    const bytes = Buffer.concat(chunks, result.size);
    chunks.length = 0;
    try {
      await this.db.query(
        `INSERT INTO attachment_blobs (key, bytes, created_at) VALUES ($1, $2, now())
         ON CONFLICT (key) DO UPDATE SET bytes = EXCLUDED.bytes, created_at = EXCLUDED.created_at`,
        [key, bytes],
      );
    } catch (err) {
      throw new AttachmentStorageError(AttachmentStorageErrorCode.Backend, 'upload failed', { cause: err });
    }
    return result;
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertSafeKey(key);
    if (range) assertValidRange(range);
    const info = await this.stat(key);
    if (!info) throw notFound();
    let start = 0;
    let end = info.size - 1;
    if (range) {
      if (range.start >= info.size) {
        throw new AttachmentStorageError(
          AttachmentStorageErrorCode.RangeNotSatisfiable,
          'range starts past the end',
        );
      }
      start = range.start;
      end = Math.min(range.end, info.size - 1);
    }
    const chunkBytes = this.chunkBytes;
    const db = this.db;
    async function* slices(): AsyncGenerator<Buffer> {
      let offset = start;
      while (offset <= end) {
        const length = Math.min(chunkBytes, end - offset + 1);
        // substring() counts from 1.
        const rows = (await db.query(
          `SELECT substring(bytes FROM $2::int FOR $3::int) AS chunk FROM attachment_blobs WHERE key = $1`,
          [key, offset + 1, length],
        )) as Array<{ chunk: Buffer | null }>;
        const chunk = rows[0]?.chunk;
        if (!chunk) throw notFound();
        if (chunk.length === 0)
          throw new AttachmentStorageError(AttachmentStorageErrorCode.Backend, 'blob shrank while reading');
        offset += chunk.length;
        yield chunk;
      }
    }
    return Readable.from(slices(), { objectMode: false });
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    assertSafeKey(key);
    const rows: Array<{ size: number | string; created_at: Date }> = await this.db.query(
      `SELECT octet_length(bytes) AS size, created_at FROM attachment_blobs WHERE key = $1`,
      [key],
    );
    if (!rows.length) return null;
    return { size: Number(rows[0].size), lastModified: new Date(rows[0].created_at) };
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await this.db.query(`DELETE FROM attachment_blobs WHERE key = $1`, [key]);
  }

  async *list(prefix = ''): AsyncIterable<string> {
    assertSafePrefix(prefix);
    let after = '';
    for (;;) {
      const rows: Array<{ key: string }> = await this.db.query(
        `SELECT key FROM attachment_blobs WHERE key > $1 AND starts_with(key, $2) ORDER BY key LIMIT ${LIST_PAGE}`,
        [after, prefix],
      );
      for (const row of rows) yield row.key;
      if (rows.length < LIST_PAGE) return;
      after = rows[rows.length - 1].key;
    }
  }
}

function notFound(): AttachmentStorageError {
  return new AttachmentStorageError(AttachmentStorageErrorCode.NotFound, 'attachment bytes not found');
}

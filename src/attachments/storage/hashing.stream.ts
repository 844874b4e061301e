/**
 * A pass-through stream every storage driver puts between the client's bytes and the store: it
 * counts and SHA-256-hashes the bytes as they flow and fails the moment the body grows past the
 * limit or past its announced size. It must never buffer: each chunk is hashed and handed on.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  AttachmentStorageError,
  AttachmentStorageErrorCode,
  type PutObjectResult,
} from 'src/attachments/storage/attachment-storage';

export interface HashingLimitOptions {
  maxBytes: number;
  /** When set, the body must be exactly this long. */
  expectedSize?: number;
}

export class HashingLimitStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private readonly maxBytes: number;
  private readonly expectedSize: number | undefined;
  private count = 0;
  private digestHex: string | undefined;

  constructor(opts: HashingLimitOptions) {
    super();
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 0) {
      throw new RangeError('maxBytes must be a non-negative integer');
    }
    if (
      opts.expectedSize !== undefined &&
      (!Number.isSafeInteger(opts.expectedSize) || opts.expectedSize < 0)
    ) {
      throw new RangeError('expectedSize must be a non-negative integer');
    }
    this.maxBytes = opts.maxBytes;
    this.expectedSize = opts.expectedSize;
  }

  /** Checks an announced size before any byte is read, so an oversized upload costs nothing. */
  static checkAnnouncedSize(opts: HashingLimitOptions): void {
    if (opts.expectedSize !== undefined && opts.expectedSize > opts.maxBytes) {
      throw tooLarge(opts.maxBytes);
    }
  }

  get bytes(): number {
    return this.count;
  }

  /** Size and digest; only valid once the stream has ended. */
  result(): PutObjectResult {
    if (this.digestHex === undefined) throw new Error('HashingLimitStream has not finished');
    return { size: this.count, sha256: this.digestHex };
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encoding);
    const next = this.count + buf.length;
    if (next > this.maxBytes) {
      callback(tooLarge(this.maxBytes));
      return;
    }
    if (this.expectedSize !== undefined && next > this.expectedSize) {
      callback(sizeMismatch(this.expectedSize, `more than ${this.expectedSize}`));
      return;
    }
    this.count = next;
    this.hash.update(buf);
    callback(null, buf);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedSize !== undefined && this.count !== this.expectedSize) {
      callback(sizeMismatch(this.expectedSize, String(this.count)));
      return;
    }
    this.digestHex = this.hash.digest('hex');
    callback();
  }
}

function tooLarge(maxBytes: number): AttachmentStorageError {
  return new AttachmentStorageError(
    AttachmentStorageErrorCode.TooLarge,
    `file exceeds the ${maxBytes}-byte limit`,
  );
}

function sizeMismatch(expected: number, got: string): AttachmentStorageError {
  return new AttachmentStorageError(
    AttachmentStorageErrorCode.SizeMismatch,
    `expected ${expected} bytes, received ${got}`,
  );
}

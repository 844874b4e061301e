/**
 * The contract every attachment byte store fulfils (PostgreSQL, local filesystem, S3-compatible),
 * its one error type, and the key rules shared by all drivers. Drivers stream: they must never
 * hold a whole file in memory, never leave a partial object behind after a failed put, and never
 * accept a key that could escape their namespace.
 */
import type { Readable } from 'node:stream';

export type AttachmentStorageKind = 'postgres' | 'filesystem' | 's3';

/** Inclusive byte offsets, as in an HTTP `Range: bytes=start-end` header. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PutObjectOptions {
  /** Exact size announced by the client (Content-Length or attachments.create); enforced when given. */
  size?: number;
  contentType: string;
  maxBytes: number;
}

export interface PutObjectResult {
  size: number;
  /** Lower-case hex SHA-256 of the stored bytes, computed while streaming. */
  sha256: string;
}

export interface StoredObjectInfo {
  size: number;
  contentType?: string;
  lastModified?: Date;
}

export interface PresignUploadOptions {
  contentType: string;
  /** When given, the signature covers Content-Length so the store rejects any other size. */
  size?: number;
  expiresInSeconds: number;
}

export interface PresignDownloadOptions {
  expiresInSeconds: number;
  contentType?: string;
  /** Full Content-Disposition value the store should answer with. */
  contentDisposition?: string;
}

export interface PresignedRequest {
  url: string;
  method: 'PUT' | 'GET';
  /** Headers the caller must send unchanged (they are part of the signature). */
  headers: Record<string, string>;
  expiresAt: Date;
}

export interface AttachmentStorage {
  readonly kind: AttachmentStorageKind;
  /**
   * Streams `body` into `key`, replacing a previous object only once the new one is complete.
   * Rejects with `too_large` as soon as more than `maxBytes` arrive and with `size_mismatch` when
   * `size` was given and the body is shorter or longer; a failed put publishes nothing. On failure
   * `body` has been destroyed (for a raw HTTP request body that resets the connection, so answer
   * the client first or pass a stream that is not the socket).
   */
  put(key: string, body: Readable, opts: PutObjectOptions): Promise<PutObjectResult>;
  /** Rejects with `not_found` or `range_not_satisfiable`; `range` is inclusive. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** `null` when the object does not exist. */
  stat(key: string): Promise<StoredObjectInfo | null>;
  /** Idempotent: deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every stored key under `prefix` (for orphan cleanup); order is unspecified. */
  list(prefix?: string): AsyncIterable<string>;

  // Capabilities: a driver declares only what it has, and callers test for the method, never for
  // the driver's class.

  /** Only object stores can let the client send bytes straight to them. */
  presignUpload?(key: string, opts: PresignUploadOptions): Promise<PresignedRequest>;
  presignDownload?(key: string, opts: PresignDownloadOptions): Promise<PresignedRequest>;
  /**
   * Removes the driver's own upload leftovers older than `olderThanMs` (temp files of a process
   * that died mid-upload), for the cleanup sweep; resolves to how many went. Drivers whose failed
   * puts leave nothing behind do not have it.
   */
  sweepTemp?(olderThanMs: number, now?: Date): Promise<number>;
  /** Releases what the driver holds open (an HTTP client's sockets); called once, at shutdown. */
  close?(): void | Promise<void>;
}

export enum AttachmentStorageErrorCode {
  TooLarge = 'too_large',
  SizeMismatch = 'size_mismatch',
  NotFound = 'not_found',
  RangeNotSatisfiable = 'range_not_satisfiable',
  InvalidKey = 'invalid_key',
  Backend = 'backend_error',
}

export class AttachmentStorageError extends Error {
  constructor(
    readonly code: AttachmentStorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AttachmentStorageError';
  }
}

export function isAttachmentStorageError(
  err: unknown,
  code?: AttachmentStorageErrorCode,
): err is AttachmentStorageError {
  return err instanceof AttachmentStorageError && (code === undefined || err.code === code);
}

const MAX_KEY_LENGTH = 512;
// A segment may not start with a dot: that rules out "." and ".." and leaves dot-names free for a
// driver's own bookkeeping (the filesystem driver's temp directory).
const KEY_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/** Keys are `/`-separated segments of `[A-Za-z0-9_.-]`; anything else is refused, never rewritten. */
export function assertSafeKey(key: string): void {
  if (!isSafeKey(key)) {
    throw new AttachmentStorageError(AttachmentStorageErrorCode.InvalidKey, 'invalid storage key');
  }
}

export function isSafeKey(key: string): boolean {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) return false;
  if (key.includes('..')) return false;
  return key.split('/').every((segment) => KEY_SEGMENT.test(segment));
}

/** A list prefix is a key prefix: it may end with `/` or in the middle of a segment. */
export function assertSafePrefix(prefix: string): void {
  if (prefix === '') return;
  const probe = prefix.endsWith('/') ? `${prefix}x` : prefix;
  if (!isSafeKey(probe)) {
    throw new AttachmentStorageError(AttachmentStorageErrorCode.InvalidKey, 'invalid storage key prefix');
  }
}

export function assertValidRange(range: ByteRange): void {
  if (
    !Number.isSafeInteger(range.start) ||
    !Number.isSafeInteger(range.end) ||
    range.start < 0 ||
    range.end < range.start
  ) {
    throw new AttachmentStorageError(AttachmentStorageErrorCode.RangeNotSatisfiable, 'invalid byte range');
  }
}

/** DI token for the configured driver (an interface, so it needs a token). */
export const ATTACHMENT_STORAGE = Symbol('ATTACHMENT_STORAGE');

/**
 * Deletes the bytes of a record that is already gone, logging instead of failing: records go
 * before their bytes, so bytes a failed delete leaves behind are orphans the cleanup sweep removes.
 */
export async function deleteOrphanedBytes(
  storage: AttachmentStorage,
  record: { id: string; storageKey: string },
  logger: { warn(message: unknown, context?: string): void },
): Promise<void> {
  try {
    await storage.delete(record.storageKey);
  } catch (err) {
    logger.warn(
      { event: 'attachment.bytes_delete_failed', attachmentId: record.id, err },
      'could not delete attachment bytes; the cleanup sweep will retry',
    );
  }
}

/**
 * Attachment bytes in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph, …). Bodies are
 * streamed: a body of known size goes up in one PutObject straight from the stream; a body of
 * unknown size goes through the SDK's multipart `Upload`, one part at a time, so memory use is one
 * part at most (a body that fits in one part becomes a plain PutObject). A failed put never
 * publishes an object: a PUT cut short of its Content-Length is discarded by the store, and a
 * failed multipart upload is aborted. Presigned URLs let clients send or fetch bytes directly; a presigned
 * upload bypasses our size, type and hash checks, so whoever hands one out must check the object
 * afterwards. It must never log or return credentials.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AttachmentStorageError,
  AttachmentStorageErrorCode,
  assertSafeKey,
  assertSafePrefix,
  assertValidRange,
  isSafeKey,
  type AttachmentStorage,
  type ByteRange,
  type PresignDownloadOptions,
  type PresignUploadOptions,
  type PresignedRequest,
  type PutObjectOptions,
  type PutObjectResult,
  type StoredObjectInfo,
} from 'src/attachments/storage/attachment-storage';
import { HashingLimitStream } from 'src/attachments/storage/hashing.stream';

export interface S3StorageOptions {
  bucket: string;
  /** Defaults to us-east-1, which most S3-compatible servers accept. */
  region?: string;
  /** For S3-compatible servers, e.g. `http://minio:9000`; omit for AWS. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); most self-hosted servers need this. */
  forcePathStyle?: boolean;
  /** Omit to use the SDK's default chain (environment, shared config, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Prepended to every key, e.g. `attachments/`; lets the bucket be shared. */
  keyPrefix?: string;
  /** Part size for bodies of unknown length; S3 needs at least 5 MiB. */
  partSizeBytes?: number;
  connectionTimeoutMs?: number;
  /** Idle-socket timeout per request. */
  requestTimeoutMs?: number;
  /** Where SDK warnings go (e.g. a Nest Logger); defaults to the console. */
  logger?: Pick<Console, 'warn'>;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/**
 * Parts of one upload go up one after another: the body is a live client upload that cannot be
 * read faster than it arrives, and each part in flight is a part held in memory.
 */
const PARTS_IN_FLIGHT = 1;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export class S3AttachmentStorage implements AttachmentStorage {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;
  private readonly partSize: number;

  constructor(opts: S3StorageOptions) {
    if (!opts.bucket) throw new Error('S3AttachmentStorage needs a bucket');
    this.bucket = opts.bucket;
    this.keyPrefix = opts.keyPrefix ?? '';
    assertSafePrefix(this.keyPrefix);
    this.partSize = opts.partSizeBytes ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new Error(`partSizeBytes must be at least ${MIN_PART_SIZE}`);
    }
    this.client = new S3Client({
      region: opts.region ?? 'us-east-1',
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle ?? false,
      credentials: opts.credentials,
      // Default "when supported" checksums switch streamed bodies to aws-chunked encoding and add
      // checksum parameters to presigned URLs, which many S3-compatible servers reject. We hash
      // every upload ourselves anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: opts.connectionTimeoutMs ?? 5_000,
        requestTimeout: opts.requestTimeoutMs ?? 60_000,
      },
      logger: sdkLogger(opts.logger ?? console),
    });
  }

  async put(key: string, body: Readable, opts: PutObjectOptions): Promise<PutObjectResult> {
    const objectKey = this.objectKey(key);
    const limits = { maxBytes: opts.maxBytes, expectedSize: opts.size };
    HashingLimitStream.checkAnnouncedSize(limits);
    const hasher = new HashingLimitStream(limits);
    const abort = new AbortController();

    // The SDK pipes a stream body with `.pipe()`, which does not forward errors: if the limit trips
    // mid-body the request would wait for bytes that never come. Aborting it ends the request.
    let streamError: unknown;
    const piped = pipeline(body, hasher).then(
      () => undefined,
      (err: unknown) => {
        streamError = err;
        abort.abort();
      },
    );

    try {
      if (opts.size !== undefined) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: objectKey,
            Body: hasher,
            ContentLength: opts.size,
            ContentType: opts.contentType,
          }),
          { abortSignal: abort.signal },
        );
      } else {
        // No abort signal here: the SDK's Upload answers an abort at once and aborts the multipart
        // upload later, in the background. A failing body instead fails its next read, and the
        // Upload aborts the multipart upload before it rejects, so nothing is left when put() fails.
        await new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: objectKey, Body: hasher, ContentType: opts.contentType },
          partSize: this.partSize,
          queueSize: PARTS_IN_FLIGHT,
          leavePartsOnError: false,
        }).done();
      }
    } catch (err) {
      hasher.destroy();
      await piped;
      if (streamError instanceof AttachmentStorageError) throw streamError;
      throw err instanceof AttachmentStorageError ? err : backendError('upload failed', err);
    }
    await piped;
    if (streamError !== undefined) {
      throw streamError instanceof AttachmentStorageError
        ? streamError
        : backendError('upload failed', streamError);
    }
    return hasher.result();
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const objectKey = this.objectKey(key);
    if (range) assertValidRange(range);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      if (!(out.Body instanceof Readable)) throw new Error('S3 response has no readable body');
      return out.Body;
    } catch (err) {
      throw mapS3Error(err, 'download failed');
    }
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    const objectKey = this.objectKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { size: out.ContentLength ?? 0, contentType: out.ContentType, lastModified: out.LastModified };
    } catch (err) {
      const mapped = mapS3Error(err, 'stat failed');
      if (mapped.code === AttachmentStorageErrorCode.NotFound) return null;
      throw mapped;
    }
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      const mapped = mapS3Error(err, 'delete failed');
      if (mapped.code !== AttachmentStorageErrorCode.NotFound) throw mapped;
    }
  }

  async *list(prefix = ''): AsyncIterable<string> {
    assertSafePrefix(prefix);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.keyPrefix + prefix,
            ContinuationToken: token,
          }),
        );
      } catch (err) {
        throw mapS3Error(err, 'list failed');
      }
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.keyPrefix.length);
        // Objects put there by other tools may not be valid keys; we could not address them anyway.
        if (key && isSafeKey(key)) yield key;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * A URL the client can PUT the bytes to. With `size`, Content-Length is part of the signature,
   * so the store itself refuses a body of any other length; Content-Type is always signed.
   */
  async presignUpload(key: string, opts: PresignUploadOptions): Promise<PresignedRequest> {
    const objectKey = this.objectKey(key);
    const expiresIn = checkExpiry(opts.expiresInSeconds);
    const url = await getSignedUrl(
      this.client,
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: objectKey,
        ContentType: opts.contentType,
        ContentLength: opts.size,
      }),
      { expiresIn, signableHeaders: new Set(['content-type']) },
    );
    return {
      url,
      method: 'PUT',
      headers: { 'Content-Type': opts.contentType },
      expiresAt: new Date(Date.now() + expiresIn * 1000),
    };
  }

  async presignDownload(key: string, opts: PresignDownloadOptions): Promise<PresignedRequest> {
    const objectKey = this.objectKey(key);
    const expiresIn = checkExpiry(opts.expiresInSeconds);
    const url = await getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: objectKey,
        ResponseContentType: opts.contentType,
        ResponseContentDisposition: opts.contentDisposition,
      }),
      { expiresIn },
    );
    return { url, method: 'GET', headers: {}, expiresAt: new Date(Date.now() + expiresIn * 1000) };
  }

  /** Releases the client's sockets (module shutdown, tests). */
  close(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    assertSafeKey(key);
    return this.keyPrefix + key;
  }
}

/**
 * With a logger set, the SDK reports every failed command through `error` (we throw a mapped error
 * for those anyway, and an expected "not found" is no error) and warns whenever a streamed request
 * fails, which is how every upload refused for its size ends. Both are dropped; other warnings
 * (deprecations, clock skew) are passed on.
 */
function sdkLogger(target: Pick<Console, 'warn'>) {
  const ignore = () => undefined;
  return {
    trace: ignore,
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (...content: unknown[]) => {
      if (typeof content[0] === 'string' && content[0].includes('non-retryable streaming request')) return;
      target.warn(...content);
    },
  };
}

function checkExpiry(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PRESIGN_SECONDS) {
    throw new RangeError(`presigned URL lifetime must be 1..${MAX_PRESIGN_SECONDS} seconds`);
  }
  return seconds;
}

function backendError(message: string, cause: unknown): AttachmentStorageError {
  return new AttachmentStorageError(AttachmentStorageErrorCode.Backend, message, { cause });
}

function mapS3Error(err: unknown, message: string): AttachmentStorageError {
  if (err instanceof AttachmentStorageError) return err;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  const name = e?.name;
  const status = e?.$metadata?.httpStatusCode;
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    // A missing bucket is a configuration fault, not a missing attachment.
    if (name !== 'NoSuchBucket') {
      return new AttachmentStorageError(AttachmentStorageErrorCode.NotFound, 'attachment bytes not found', {
        cause: err,
      });
    }
  }
  if (name === 'InvalidRange' || status === 416) {
    return new AttachmentStorageError(
      AttachmentStorageErrorCode.RangeNotSatisfiable,
      'range not satisfiable',
      {
        cause: err,
      },
    );
  }
  return backendError(message, err);
}

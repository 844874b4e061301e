/**
 * Attachment bytes in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph, …). Bodies are
 * streamed: a body of known size goes up in one PutObject straight from the stream; a body of
 * unknown size goes up in bounded multipart parts, so memory use is one part at most. A failed put
 * never publishes an object: a PUT cut short of its Content-Length is discarded by the store, and
 * a failed multipart upload is aborted. Presigned URLs let clients send or fetch bytes directly; a presigned
 * upload bypasses our size, type and hash checks, so whoever hands one out must check the object
 * afterwards. It must never log or return credentials.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
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
        await this.putInParts(objectKey, hasher, opts.contentType, abort.signal);
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

  /**
   * Reads the body one part at a time. A body that fits in one part becomes a plain PutObject; a
   * larger one becomes a multipart upload that is aborted on any failure, so no object appears.
   */
  private async putInParts(objectKey: string, source: Readable, contentType: string, signal: AbortSignal) {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];

    const uploadPart = async (data: Buffer) => {
      if (uploadId === undefined) {
        const created = await this.client.send(
          new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, ContentType: contentType }),
          { abortSignal: signal },
        );
        if (!created.UploadId) throw new Error('S3 returned no UploadId');
        uploadId = created.UploadId;
      }
      const partNumber = parts.length + 1;
      const out = await this.client.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: objectKey,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: data,
          ContentLength: data.length,
        }),
        { abortSignal: signal },
      );
      parts.push({ PartNumber: partNumber, ETag: out.ETag });
    };

    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        while (pendingBytes >= this.partSize) {
          const joined = Buffer.concat(pending, pendingBytes);
          await uploadPart(joined.subarray(0, this.partSize));
          const rest = joined.subarray(this.partSize);
          pending = rest.length > 0 ? [rest] : [];
          pendingBytes = rest.length;
        }
      }
      if (uploadId === undefined) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: objectKey,
            Body: Buffer.concat(pending, pendingBytes),
            ContentType: contentType,
          }),
          { abortSignal: signal },
        );
        return;
      }
      if (pendingBytes > 0) await uploadPart(Buffer.concat(pending, pendingBytes));
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: objectKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (uploadId !== undefined) {
        // Best effort: a bucket lifecycle rule for incomplete multipart uploads is the backstop.
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw err;
    }
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

/**
 * A driver with a span around each storage operation (`attachment_storage <operation>`): the
 * driver, the operation and the byte size where it is known (what a put stored, what a stat found,
 * the length of a ranged get). Never the key or anything about the file: keys are ids, but names,
 * types and contents stay out of traces all the same. A get's span covers opening the object, not
 * the reading of it, which the download's HTTP span covers.
 *
 * Used only with tracing on; the driver is otherwise used as it is.
 */
import type { Readable } from 'node:stream';
import type {
  AttachmentStorage,
  ByteRange,
  PresignDownloadOptions,
  PresignUploadOptions,
  PutObjectOptions,
} from 'src/attachments/storage/attachment-storage';
import { ATTR, withSpan } from 'src/telemetry/tracer';
import { activeTracing } from 'src/telemetry/tracing.state';

function traced<T>(
  storage: AttachmentStorage,
  operation: string,
  fn: () => Promise<T>,
  bytes?: (result: T) => number | undefined,
): Promise<T> {
  return withSpan(
    `attachment_storage ${operation}`,
    { [ATTR.STORAGE_DRIVER]: storage.kind, [ATTR.STORAGE_OPERATION]: operation },
    async (span) => {
      const result = await fn();
      const size = bytes?.(result);
      if (size !== undefined) span.setAttribute(ATTR.STORAGE_BYTES, size);
      return result;
    },
  );
}

/**
 * `storage` itself with tracing off; else a proxy tracing put, get, stat, delete and the presigns.
 * A proxy, so the optional capabilities stay exactly those of the driver (`'presignUpload' in`).
 */
export function withStorageSpans(storage: AttachmentStorage): AttachmentStorage {
  if (!activeTracing()) return storage;
  const wrappers: Partial<Record<keyof AttachmentStorage, unknown>> = {
    put: (key: string, body: Readable, opts: PutObjectOptions) =>
      traced(
        storage,
        'put',
        () => storage.put(key, body, opts),
        (r) => r.size,
      ),
    get: (key: string, range?: ByteRange) =>
      traced(
        storage,
        'get',
        () => storage.get(key, range),
        () => (range ? range.end - range.start + 1 : undefined),
      ),
    stat: (key: string) =>
      traced(
        storage,
        'stat',
        () => storage.stat(key),
        (info) => info?.size,
      ),
    delete: (key: string) => traced(storage, 'delete', () => storage.delete(key)),
    presignUpload: (key: string, opts: PresignUploadOptions) =>
      traced(storage, 'presign_upload', () => storage.presignUpload!(key, opts)),
    presignDownload: (key: string, opts: PresignDownloadOptions) =>
      traced(storage, 'presign_download', () => storage.presignDownload!(key, opts)),
  };
  return new Proxy(storage, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const wrapper = wrappers[property as keyof AttachmentStorage];
      return wrapper ?? (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}

/**
 * Taking attachments in: attachments.create (checks the declared file, reserves its size against
 * the user's quota, hands out the upload target), the signed two-phase upload and the one-request
 * direct upload (claim, stream into storage while hashing and counting, type checks on the real
 * bytes), and the late check of bytes a client sent straight to the bucket by a presigned URL.
 *
 * Rules it must keep: a record becomes `ready` only after its bytes were stored whole and judged
 * by their first bytes; a refused upload leaves neither bytes nor a ready record; two uploads to
 * one attachment never write the same key; nothing it logs carries file contents.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AttachmentErrorCode, AttachmentException } from 'src/attachments/attachment.exception';
import { peekHead, type IncomingFile } from 'src/attachments/attachment.intake';
import {
  SNIFF_HEAD_BYTES,
  checkType,
  hasOfficeContent,
  isAllowedType,
  mimeTypeFromFilename,
  needsContainerCheck,
  sniffMimeType,
} from 'src/attachments/attachment.mime';
import { normalizeMimeType } from 'src/config/attachment-types';
import { cleanName, storageKeyFor, uploadKeyFor } from 'src/attachments/attachment.names';
import { AttachmentRefusals, type RefusalSubject } from 'src/attachments/attachment.refusals';
import { AttachmentStore, type AttachmentRecord, type NewAttachment } from 'src/attachments/attachment.store';
import { AttachmentUrls } from 'src/attachments/attachment.urls';
import { toAttachment } from 'src/attachments/attachment.wire';
import { AttachmentsMetrics, type UploadFlow } from 'src/attachments/attachments.metrics';
import {
  ATTACHMENT_STORAGE,
  AttachmentStorageErrorCode,
  isAttachmentStorageError,
  type AttachmentStorage,
  deleteOrphanedBytes,
} from 'src/attachments/storage/attachment-storage';
import { HashingLimitStream } from 'src/attachments/storage/hashing.stream';
import type { Attachment, AttachmentsCreateParams, UploadDescriptor } from 'src/protocol/chatkit.schemas';
import { newId } from 'src/common/ids';
import type { RequestContext } from 'src/common/request-context';
import { attachmentsConfig, type AttachmentsConfig } from 'src/config/attachments.config';

/** Multipart framing around the file part: boundaries, part headers, other small fields. */
const MULTIPART_OVERHEAD = 256 * 1024;
/**
 * An upload claim older than this is taken to belong to a process that died mid-upload, and a
 * new upload to the same URL may take it over. A live upload that slow loses nothing but the
 * race: its bytes are under its own key, and it answers 409 when it finishes.
 */
export const UPLOAD_CLAIM_STALE_S = 600;

interface StoreOptions {
  flow: UploadFlow;
  /** Most bytes this upload may have. */
  limit: number;
  /** The limit came from the user's quota rather than the per-file maximum. */
  limitedByQuota: boolean;
  /** Declared by attachments.create; shown when the real file is larger. */
  declaredSize?: number;
}

@Injectable()
export class AttachmentIntakeService {
  private readonly logger = new Logger('Attachments');

  constructor(
    private readonly store: AttachmentStore,
    @Inject(ATTACHMENT_STORAGE) private readonly storage: AttachmentStorage,
    private readonly urls: AttachmentUrls,
    private readonly refusals: AttachmentRefusals,
    private readonly metrics: AttachmentsMetrics,
    @Inject(attachmentsConfig.KEY) private readonly config: AttachmentsConfig,
  ) {}

  // ------------------------------------------------------------------------------ two-phase

  /** attachments.create: checks the declared file, records it as pending, hands out the upload target. */
  async create(ctx: RequestContext, params: AttachmentsCreateParams): Promise<Attachment> {
    const name = cleanName(params.name);
    const mimeType = normalizeMimeType(params.mime_type);
    const who = { userId: ctx.userId, flow: 'two_phase' as const };
    if (!isAllowedType(mimeType, this.config.allowedMimeTypes)) {
      throw this.refusals.reject(
        who,
        AttachmentErrorCode.TypeNotAllowed,
        `files of type ${mimeType} are not accepted`,
        {
          mimeType,
        },
      );
    }
    if (params.size > this.config.maxBytes) {
      throw this.refusals.reject(who, AttachmentErrorCode.TooLarge, this.tooLargeMessage(params.size), {
        size: params.size,
      });
    }
    const id = newId('attachment');
    const { record, used } = await this.reservePending(
      ctx,
      { id, name, mimeType, storageKind: this.storage.kind, storageKey: storageKeyFor(id) },
      params.size,
      false,
    );
    if (!record) {
      throw this.refusals.reject(who, AttachmentErrorCode.QuotaExceeded, this.quotaMessage(), {
        size: params.size,
        used,
      });
    }
    const attachment = toAttachment(record, this.urls);
    attachment.upload_descriptor = await this.uploadDescriptor(record);
    this.logger.log(
      { event: 'attachment.create', attachmentId: id, userId: ctx.userId, size: params.size, mimeType },
      'attachment created, waiting for its bytes',
    );
    return attachment;
  }

  /**
   * The signed upload target of a two-phase upload. The signature was checked by the caller
   * (`verifyUpload`); `contentLength` is the request's, when it announced one.
   */
  async receiveUpload(id: string, file: IncomingFile, contentLength?: number): Promise<Attachment> {
    const record = await this.store.findById(id);
    const who = { userId: record?.userId, flow: 'two_phase' as const, attachmentId: id };
    if (!record)
      throw this.refusals.reject(who, AttachmentErrorCode.NotFound, `attachment "${id}" not found`);
    // Claimed before a byte is read: of two requests to one URL (a double submit, a client
    // retrying too early) the second is refused here instead of racing the first for the bytes.
    const claimed = await this.store.claimUpload(id, uploadKeyFor(id), UPLOAD_CLAIM_STALE_S);
    if (!claimed) throw this.uploadRefusal(who, await this.store.findById(id));
    const limit = Math.min(this.config.maxBytes, claimed.size);
    const announced = file.multipart ? undefined : contentLength;
    if (announced !== undefined && announced > limit) {
      await this.discardPending(claimed);
      throw this.refusals.reject(
        who,
        AttachmentErrorCode.TooLarge,
        this.tooLargeMessage(announced, claimed.size),
        {
          size: announced,
        },
      );
    }
    try {
      const ready = await this.storeBytes(claimed, file, {
        flow: 'two_phase',
        limit,
        limitedByQuota: false,
        declaredSize: claimed.size,
      });
      return toAttachment(ready, this.urls);
    } catch (err) {
      await this.releaseUpload(claimed).catch(() => undefined);
      throw err;
    }
  }

  verifyUpload(id: string, query: Record<string, unknown>): void {
    this.refusals.checkSignature(id, 'upload', query);
  }

  // ------------------------------------------------------------------------------ direct

  /** ChatKit's `direct` strategy: one multipart request, one ready attachment. */
  async receiveDirect(ctx: RequestContext, file: IncomingFile, contentLength?: number): Promise<Attachment> {
    const who = { userId: ctx.userId, flow: 'direct' as const };
    const name = cleanName(file.filename ?? '');
    let mimeType = normalizeMimeType(file.contentType);
    if (mimeType === '' || mimeType === 'application/octet-stream') {
      mimeType = mimeTypeFromFilename(name) ?? mimeType;
    }
    if (!isAllowedType(mimeType, this.config.allowedMimeTypes)) {
      throw this.refusals.reject(
        who,
        AttachmentErrorCode.TypeNotAllowed,
        `files of type ${mimeType || 'unknown'} are not accepted`,
        { mimeType },
      );
    }
    if (contentLength !== undefined && contentLength > this.config.maxBytes + MULTIPART_OVERHEAD) {
      throw this.refusals.reject(who, AttachmentErrorCode.TooLarge, this.tooLargeMessage(contentLength), {
        size: contentLength,
      });
    }
    // The file's size is only known once it arrived, so the record reserves all it may still
    // become while the bytes stream; other uploads of the same user count it meanwhile. A body
    // cannot be longer than the Content-Length it announced.
    const cap = Math.min(this.config.maxBytes, contentLength ?? Infinity);
    const id = newId('attachment');
    const { record, used } = await this.reservePending(
      ctx,
      { id, name, mimeType, storageKind: this.storage.kind, storageKey: storageKeyFor(id) },
      cap,
      true,
    );
    if (!record)
      throw this.refusals.reject(who, AttachmentErrorCode.QuotaExceeded, this.quotaMessage(), { used });
    const limitedByQuota = record.size < cap;
    let ready: AttachmentRecord;
    try {
      ready = await this.storeBytes(record, file, { flow: 'direct', limit: record.size, limitedByQuota });
    } catch (err) {
      // The pending record is the reservation: a direct upload that did not finish releases it
      // now rather than when the pending sweep comes by (a client that hung up included).
      await this.discardPending(record).catch(() => undefined);
      throw err;
    }
    return toAttachment(ready, this.urls);
  }

  /**
   * Judges the first bytes, streams the rest into storage while hashing and counting, and marks
   * the record ready. A refusal removes the pending record; whatever the failure, no bytes stay.
   */
  private async storeBytes(
    record: AttachmentRecord,
    file: IncomingFile,
    opts: StoreOptions,
  ): Promise<AttachmentRecord> {
    const started = Date.now();
    const who = { userId: record.userId, flow: opts.flow, attachmentId: record.id };
    // Tells a client that hung up or sent a broken body apart from a failing store.
    let sourceFailed = false;
    file.stream.once('error', () => (sourceFailed = true));
    let head: Buffer;
    let body;
    try {
      ({ head, body } = await peekHead(file.stream, SNIFF_HEAD_BYTES));
    } catch {
      this.metrics.uploads.inc({ flow: opts.flow, result: 'failed' });
      throw new AttachmentException(AttachmentErrorCode.BadBody, 'the upload was interrupted');
    }
    const sniffed = await sniffMimeType(head, record.mimeType, record.name);
    const verdict = checkType(record.mimeType, sniffed, this.config.allowedMimeTypes);
    if (!verdict.ok) {
      body.destroy();
      await this.discardPending(record);
      throw verdict.reason === 'type_not_allowed'
        ? this.refusals.reject(
            who,
            AttachmentErrorCode.TypeNotAllowed,
            `files of type ${record.mimeType} are not accepted`,
          )
        : this.refusals.reject(
            who,
            AttachmentErrorCode.TypeMismatch,
            `the file's content is not ${record.mimeType}${sniffed ? ` (it looks like ${sniffed})` : ''}`,
            { mimeType: record.mimeType, sniffed },
          );
    }

    let stored;
    try {
      stored = await this.storage.put(record.storageKey, body, {
        contentType: verdict.mimeType,
        maxBytes: opts.limit,
      });
    } catch (err) {
      if (isAttachmentStorageError(err, AttachmentStorageErrorCode.TooLarge)) {
        await this.discardPending(record);
        throw opts.limitedByQuota
          ? this.refusals.reject(who, AttachmentErrorCode.QuotaExceeded, this.quotaMessage())
          : this.refusals.reject(
              who,
              AttachmentErrorCode.TooLarge,
              this.tooLargeMessage(undefined, opts.declaredSize),
            );
      }
      this.metrics.uploads.inc({ flow: opts.flow, result: 'failed' });
      // A direct upload cannot be resumed; a two-phase one may be sent again to the same URL.
      if (opts.flow === 'direct') await this.discardPending(record);
      if (!sourceFailed) {
        this.logger.error(
          { event: 'attachment.upload_failed', attachmentId: record.id, userId: record.userId, err },
          'storing attachment bytes failed',
        );
        throw new AttachmentException(
          AttachmentErrorCode.StorageFailed,
          'the file could not be stored; try again',
        );
      }
      throw new AttachmentException(AttachmentErrorCode.BadBody, 'the upload was interrupted');
    }

    if (!(await this.hasOfficeContent(record.storageKey, verdict.mimeType, stored.size))) {
      await this.storage.delete(record.storageKey).catch(() => undefined);
      await this.discardPending(record);
      throw this.refusals.reject(
        who,
        AttachmentErrorCode.TypeMismatch,
        `the file's content is not ${record.mimeType} (the container does not hold that document)`,
        { mimeType: record.mimeType, container: true },
      );
    }

    const ready = await this.store.markReady(record, {
      size: stored.size,
      sha256: stored.sha256,
      mimeType: verdict.mimeType,
    });
    if (!ready) {
      // Deleted (by its owner or cleanup) while the bytes were arriving, or a later upload took
      // over a claim that looked abandoned. The key is this upload's own, so no one else's bytes go.
      await this.storage.delete(record.storageKey).catch(() => undefined);
      throw this.uploadRefusal(who, await this.store.findById(record.id));
    }
    this.metrics.uploads.inc({ flow: opts.flow, result: 'ok' });
    this.metrics.bytesIn.inc({ storage: this.storage.kind }, stored.size);
    this.logger.log(
      {
        event: 'attachment.upload',
        attachmentId: record.id,
        userId: record.userId,
        flow: opts.flow,
        size: stored.size,
        mimeType: verdict.mimeType,
        durationMs: Date.now() - started,
      },
      'attachment uploaded',
    );
    return ready;
  }

  /**
   * With presigned S3 uploads the bytes bypass us, so they are judged when first needed: read
   * back, typed by their first bytes and hashed. Null while nothing was uploaded yet.
   */
  async verifyPresignedUpload(record: AttachmentRecord): Promise<AttachmentRecord | null> {
    if (!this.presignedUploads() || record.status !== 'pending') return null;
    const info = await this.storage.stat(record.storageKey);
    if (!info) return null;
    const who = { userId: record.userId, flow: 'presigned' as const, attachmentId: record.id };
    const { head, body } = await peekHead(await this.storage.get(record.storageKey), SNIFF_HEAD_BYTES);
    const sniffed = await sniffMimeType(head, record.mimeType, record.name);
    const verdict = checkType(record.mimeType, sniffed, this.config.allowedMimeTypes);
    if (!verdict.ok) {
      body.destroy();
      await this.discardPending(record);
      throw this.refusals.reject(
        who,
        AttachmentErrorCode.TypeMismatch,
        `the file's content is not ${record.mimeType}`,
      );
    }
    const hasher = new HashingLimitStream({ maxBytes: Math.min(this.config.maxBytes, record.size) });
    try {
      await pipeline(body, hasher, new Writable({ write: (_chunk, _enc, done) => done() }));
    } catch (err) {
      if (!isAttachmentStorageError(err, AttachmentStorageErrorCode.TooLarge)) throw err;
      await this.discardPending(record);
      throw this.refusals.reject(
        who,
        AttachmentErrorCode.TooLarge,
        this.tooLargeMessage(info.size, record.size),
      );
    }
    const { size, sha256 } = hasher.result();
    if (!(await this.hasOfficeContent(record.storageKey, verdict.mimeType, size))) {
      await this.discardPending(record);
      throw this.refusals.reject(
        who,
        AttachmentErrorCode.TypeMismatch,
        `the file's content is not ${record.mimeType}`,
      );
    }
    const ready = await this.store.markReady(record, { size, sha256, mimeType: verdict.mimeType });
    if (ready) {
      this.metrics.uploads.inc({ flow: 'presigned', result: 'ok' });
      this.logger.log(
        {
          event: 'attachment.upload',
          attachmentId: record.id,
          userId: record.userId,
          flow: 'presigned',
          size,
          mimeType: verdict.mimeType,
        },
        'presigned upload verified',
      );
    }
    return ready;
  }

  /**
   * Office files are judged by what their container holds, and only the whole file shows that
   * (a ZIP's directory is at its end): the stored bytes are read back once, at most `size` of
   * them, which the upload's limit already bounded. Other types pass untouched.
   */
  private async hasOfficeContent(key: string, mimeType: string, size: number): Promise<boolean> {
    if (!needsContainerCheck(mimeType)) return true;
    const chunks: Buffer[] = [];
    let read = 0;
    try {
      const stream = await this.storage.get(key);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        read += chunk.length;
        if (read > size) {
          stream.destroy();
          return false;
        }
        chunks.push(chunk);
      }
    } catch (err) {
      this.logger.error(
        { event: 'attachment.upload_failed', storageKey: key, err },
        'reading back stored attachment bytes failed',
      );
      throw new AttachmentException(
        AttachmentErrorCode.StorageFailed,
        'the file could not be stored; try again',
      );
    }
    return hasOfficeContent(mimeType, Buffer.concat(chunks, read));
  }

  private presignedUploads(): boolean {
    return this.config.s3.presignedUploads && typeof this.storage.presignUpload === 'function';
  }

  private async uploadDescriptor(record: AttachmentRecord): Promise<UploadDescriptor> {
    if (this.presignedUploads()) {
      const presigned = await this.storage.presignUpload!(record.storageKey, {
        contentType: record.mimeType,
        size: record.size,
        expiresInSeconds: this.config.uploadUrlTtlS,
      });
      return { url: presigned.url, method: 'PUT', headers: presigned.headers };
    }
    return { url: this.urls.uploadUrl(record.id), method: 'PUT', headers: {} };
  }

  /**
   * Records a pending upload that counts `size` bytes against the user's quota, or, when
   * `orLess`, whatever is left of the quota if that is less; no record when nothing fits. The
   * check and the insert are one step under a per-user lock (see the store).
   */
  private async reservePending(
    ctx: RequestContext,
    a: Omit<NewAttachment, 'size'>,
    size: number,
    orLess: boolean,
  ): Promise<{ record: AttachmentRecord | null; used: number }> {
    const quota = this.config.userQuotaBytes;
    if (quota <= 0) return { record: await this.store.insertPending(ctx, { ...a, size }), used: 0 };
    return this.store.reservePending(ctx, a, (used) => {
      const remaining = quota - used;
      if (size <= remaining) return size;
      return orLess && remaining > 0 ? remaining : null;
    });
  }

  private async discardPending(record: AttachmentRecord): Promise<void> {
    const deleted = await this.store.deleteById(record.id, record);
    if (deleted) await this.deleteBytes(deleted);
  }

  /**
   * A claimed upload that failed gives the attachment back, so the client can send it again to
   * the same URL, and removes whatever it may have stored under its own key (unless that key
   * became the attachment's ready bytes after all).
   */
  private async releaseUpload(claimed: AttachmentRecord): Promise<void> {
    await this.store.releaseUpload(claimed);
    const now = await this.store.findById(claimed.id);
    if (now?.status === 'ready' && now.storageKey === claimed.storageKey) return;
    await this.storage.delete(claimed.storageKey).catch(() => undefined);
  }

  /** Why an upload to this attachment cannot go ahead, given its record as it is now. */
  private uploadRefusal(
    who: RefusalSubject & { attachmentId: string },
    now: AttachmentRecord | null,
  ): AttachmentException {
    const id = who.attachmentId;
    if (!now) return this.refusals.reject(who, AttachmentErrorCode.NotFound, `attachment "${id}" not found`);
    if (now.status === 'ready') {
      return this.refusals.reject(
        who,
        AttachmentErrorCode.AlreadyUploaded,
        `attachment "${id}" was already uploaded`,
      );
    }
    return this.refusals.reject(
      who,
      AttachmentErrorCode.UploadInProgress,
      `attachment "${id}" is being uploaded by another request; wait for it to finish`,
    );
  }

  private deleteBytes(record: AttachmentRecord): Promise<void> {
    return deleteOrphanedBytes(this.storage, record, this.logger);
  }

  private tooLargeMessage(size?: number, declared?: number): string {
    const max = `${this.config.maxBytes / (1024 * 1024)} MB`;
    if (declared !== undefined && declared < this.config.maxBytes) {
      return `the file is larger than the ${declared} bytes declared when the attachment was created`;
    }
    return size !== undefined
      ? `the file (${size} bytes) is larger than the ${max} limit`
      : `the file is larger than the ${max} limit`;
  }

  private quotaMessage(): string {
    return `your attachments would exceed your ${this.config.userQuotaBytes / (1024 * 1024)} MB storage quota; delete some first`;
  }
}

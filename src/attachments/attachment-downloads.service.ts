/**
 * Serving attachments back: finds the record a download may send (the owner's own, or one named
 * by a valid signed link), opens its bytes (whole or one range) from storage, and counts and logs
 * what was sent. The HTTP side (validators, ranges, headers) is the controller's, through
 * `sendAttachment`. It must never serve an attachment that is not ready, nor another user's
 * without a valid signature.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { SendResult } from 'src/attachments/attachment.download';
import { AttachmentErrorCode, AttachmentException } from 'src/attachments/attachment.exception';
import { AttachmentRefusals } from 'src/attachments/attachment.refusals';
import { AttachmentStore, type AttachmentRecord } from 'src/attachments/attachment.store';
import { AttachmentsMetrics } from 'src/attachments/attachments.metrics';
import {
  ATTACHMENT_STORAGE,
  AttachmentStorageErrorCode,
  isAttachmentStorageError,
  type AttachmentStorage,
  type ByteRange,
} from 'src/attachments/storage/attachment-storage';
import type { RequestContext } from 'src/common/request-context';

/** How a download was authorised: the owner's token, or a signed link. */
export type DownloadAccess = 'owner' | 'signed';

@Injectable()
export class AttachmentDownloadsService {
  private readonly logger = new Logger('Attachments');

  constructor(
    private readonly store: AttachmentStore,
    @Inject(ATTACHMENT_STORAGE) private readonly storage: AttachmentStorage,
    private readonly refusals: AttachmentRefusals,
    private readonly metrics: AttachmentsMetrics,
  ) {}

  /** The caller's own ready attachment, or 404. */
  async findForOwner(ctx: RequestContext, id: string): Promise<AttachmentRecord> {
    const record = await this.store.findOwned(ctx, id);
    if (!record || record.status !== 'ready') {
      throw this.refusals.reject(
        { userId: ctx.userId, attachmentId: id },
        AttachmentErrorCode.NotFound,
        `attachment "${id}" not found`,
      );
    }
    return record;
  }

  /** A ready attachment named by a valid download signature, or 403/404. */
  async findForSignedDownload(id: string, query: Record<string, unknown>): Promise<AttachmentRecord> {
    this.refusals.checkSignature(id, 'download', query);
    const record = await this.store.findById(id);
    if (!record || record.status !== 'ready') {
      throw this.refusals.reject(
        { attachmentId: id },
        AttachmentErrorCode.NotFound,
        `attachment "${id}" not found`,
      );
    }
    return record;
  }

  /**
   * The stored bytes of a found record, whole or one inclusive range. Bytes missing under a live
   * record are a fault worth an error log; the client sees the same 404 as for a missing record.
   */
  async open(record: AttachmentRecord, route: DownloadAccess, range?: ByteRange): Promise<Readable> {
    try {
      return await this.storage.get(record.storageKey, range);
    } catch (err) {
      if (isAttachmentStorageError(err, AttachmentStorageErrorCode.NotFound)) {
        this.logger.error(
          { event: 'attachment.bytes_missing', attachmentId: record.id, storage: this.storage.kind },
          'attachment record has no stored bytes',
        );
        this.metrics.downloads.inc({ route, status: '404' });
        throw new AttachmentException(AttachmentErrorCode.NotFound, `attachment "${record.id}" not found`);
      }
      throw err;
    }
  }

  /** Counts and logs one answered download. */
  served(
    record: AttachmentRecord,
    route: DownloadAccess,
    result: SendResult,
    userId: string | undefined,
    startedAt: number,
  ): void {
    this.metrics.downloads.inc({ route, status: String(result.status) });
    this.metrics.bytesOut.inc({ storage: this.storage.kind }, result.bytes);
    this.logger.log(
      {
        event: 'attachment.download',
        attachmentId: record.id,
        userId: userId ?? record.userId,
        route,
        status: result.status,
        size: result.bytes,
        mimeType: record.mimeType,
        durationMs: Date.now() - startedAt,
      },
      'attachment downloaded',
    );
  }
}

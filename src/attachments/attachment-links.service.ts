/**
 * What the ChatKit protocol layer asks of attachments: resolve the ids a user
 * message names to the caller's own ready attachments, link them to the thread inside the
 * message's transaction, delete one or a thread's worth, re-sign preview links on the way out,
 * and attachments.create (handed to intake).
 *
 * Rules it must keep: a user only ever sees, links or deletes their own attachments; an
 * attachment belongs to at most one thread; records go before their bytes, so a failed byte
 * delete leaves an orphan for the sweep, never a record without bytes.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AttachmentIntakeService } from 'src/attachments/attachment-intake.service';
import { AttachmentErrorCode, AttachmentException } from 'src/attachments/attachment.exception';
import { AttachmentStore, type AttachmentRecord } from 'src/attachments/attachment.store';
import { AttachmentUrls } from 'src/attachments/attachment.urls';
import { toAttachment, withFreshPreviews } from 'src/attachments/attachment.wire';
import {
  ATTACHMENT_STORAGE,
  deleteOrphanedBytes,
  type AttachmentStorage,
} from 'src/attachments/storage/attachment-storage';
import type { Attachment, AttachmentsCreateParams } from 'src/protocol/chatkit.schemas';
import type { RequestContext } from 'src/common/request-context';

@Injectable()
export class AttachmentLinksService {
  private readonly logger = new Logger('Attachments');

  constructor(
    private readonly store: AttachmentStore,
    @Inject(ATTACHMENT_STORAGE) private readonly storage: AttachmentStorage,
    private readonly urls: AttachmentUrls,
    private readonly intake: AttachmentIntakeService,
  ) {}

  create(ctx: RequestContext, params: AttachmentsCreateParams): Promise<Attachment> {
    return this.intake.create(ctx, params);
  }

  async delete(ctx: RequestContext, attachmentId: string): Promise<void> {
    const record = await this.store.deleteOwned(ctx, attachmentId);
    if (!record)
      throw new AttachmentException(AttachmentErrorCode.NotFound, `attachment "${attachmentId}" not found`);
    await this.deleteBytes(record);
    this.logger.log(
      { event: 'attachment.delete', attachmentId, userId: ctx.userId, size: record.size },
      'attachment deleted',
    );
  }

  async resolve(ctx: RequestContext, ids: string[]): Promise<Attachment[]> {
    const unique = [...new Set(ids)];
    const byId = new Map((await this.store.findOwnedMany(ctx, unique)).map((r) => [r.id, r]));
    const out: Attachment[] = [];
    for (const id of unique) {
      let record = byId.get(id);
      if (!record) {
        throw new AttachmentException(
          AttachmentErrorCode.NotFound,
          `params.input.attachments: attachment "${id}" not found`,
        );
      }
      if (record.status !== 'ready') record = (await this.intake.verifyPresignedUpload(record)) ?? record;
      if (record.status !== 'ready') {
        throw new AttachmentException(
          AttachmentErrorCode.NotReady,
          `params.input.attachments: attachment "${id}" has not been uploaded yet`,
        );
      }
      out.push(toAttachment(record, this.urls));
    }
    return out;
  }

  async link(ctx: RequestContext, threadId: string, ids: string[], manager: EntityManager): Promise<void> {
    const unique = [...new Set(ids)];
    if (!unique.length) return;
    const linked = await this.store.link(ctx, threadId, unique, manager);
    const refused = unique.filter((id) => !linked.has(id));
    if (refused.length) {
      throw new AttachmentException(
        AttachmentErrorCode.InUse,
        `params.input.attachments: attachment "${refused[0]}" belongs to another thread or is no longer available`,
      );
    }
  }

  async deleteForThread(ctx: RequestContext, threadId: string): Promise<void> {
    const records = await this.store.deleteForThread(ctx, threadId);
    for (const record of records) await this.deleteBytes(record);
    if (records.length) {
      this.logger.log(
        { event: 'attachment.thread_delete', threadId, userId: ctx.userId, count: records.length },
        'attachments of a deleted thread removed',
      );
    }
  }

  refresh<T>(_ctx: RequestContext, value: T): Promise<T> {
    return Promise.resolve(withFreshPreviews(value, this.urls));
  }

  private deleteBytes(record: AttachmentRecord): Promise<void> {
    return deleteOrphanedBytes(this.storage, record, this.logger);
  }
}

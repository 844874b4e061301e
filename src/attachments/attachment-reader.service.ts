/**
 * What the model gets of an attachment (the agent injects this service): the stored bytes of an
 * attachment named by a message, or only its size when it is over the caller's limit. It must
 * never hand out bytes of an attachment that is not ready or that belongs to another thread, and
 * never hold more than the limit in memory.
 */
import { Inject, Injectable } from '@nestjs/common';
import { AttachmentStore } from 'src/attachments/attachment.store';
import {
  ATTACHMENT_STORAGE,
  AttachmentStorageErrorCode,
  isAttachmentStorageError,
  type AttachmentStorage,
} from 'src/attachments/storage/attachment-storage';
import type { Attachment } from 'src/protocol/chatkit.schemas';

/** An attachment's bytes, or only its size when it is over the limit it was read with. */
export type AttachmentFile =
  { mimeType: string; data: Buffer } | { mimeType: string; data: null; size: number };

@Injectable()
export class AttachmentReaderService {
  constructor(
    private readonly store: AttachmentStore,
    @Inject(ATTACHMENT_STORAGE) private readonly storage: AttachmentStorage,
  ) {}

  /**
   * The bytes of an attachment of a stored message; null when gone or not ready. Over
   * `maxBytes` (judged by the recorded size, before anything is fetched) only the size.
   */
  async read(attachment: Attachment, maxBytes: number): Promise<AttachmentFile | null> {
    const record = await this.store.findById(attachment.id);
    if (!record || record.status !== 'ready') return null;
    // A message can only name attachments linked to its own thread.
    if (attachment.thread_id && record.threadId && attachment.thread_id !== record.threadId) return null;
    const tooLarge = (size: number): AttachmentFile => ({ mimeType: record.mimeType, data: null, size });
    if (record.size > maxBytes) return tooLarge(record.size);
    try {
      const stream = await this.storage.get(record.storageKey);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        // Stored bytes that outgrew their record are not held in memory either.
        if (size > maxBytes) {
          stream.destroy();
          return tooLarge(size);
        }
        chunks.push(chunk);
      }
      return { mimeType: record.mimeType, data: Buffer.concat(chunks, size) };
    } catch (err) {
      if (isAttachmentStorageError(err, AttachmentStorageErrorCode.NotFound)) return null;
      throw err;
    }
  }
}

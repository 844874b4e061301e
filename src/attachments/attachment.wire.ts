/**
 * An attachment record as the ChatKit protocol shows it: an `image` carries a freshly signed
 * preview link, anything else is a `file`. Links expire, so stored items get new ones each time
 * they are sent. It must never put a storage key or the owner into what the client sees.
 */
import { attachmentKindFor } from 'src/attachments/attachment.mime';
import type { AttachmentRecord } from 'src/attachments/attachment.store';
import type { AttachmentUrls } from 'src/attachments/attachment.urls';
import type { Attachment } from 'src/protocol/chatkit.schemas';

export function toAttachment(record: AttachmentRecord, urls: AttachmentUrls): Attachment {
  const base = {
    id: record.id,
    name: record.name,
    mime_type: record.mimeType,
    thread_id: record.threadId,
    upload_descriptor: null,
  };
  return attachmentKindFor(record.mimeType) === 'image'
    ? { ...base, type: 'image', preview_url: urls.downloadUrl(record.id, 'inline') }
    : { ...base, type: 'file' };
}

/** Gives every image attachment in user messages of a page, a thread or one item a fresh preview link. */
export function withFreshPreviews<T>(value: T, urls: AttachmentUrls): T {
  if (!isRecord(value)) return value;
  if (Array.isArray(value.data)) {
    return { ...value, data: value.data.map((item) => refreshItem(item, urls)) } as T;
  }
  if (isRecord(value.items) && Array.isArray(value.items.data)) {
    return {
      ...value,
      items: { ...value.items, data: value.items.data.map((item) => refreshItem(item, urls)) },
    } as T;
  }
  return refreshItem(value, urls) as T;
}

function refreshItem(item: unknown, urls: AttachmentUrls): unknown {
  if (!isRecord(item) || item.type !== 'user_message' || !Array.isArray(item.attachments)) return item;
  return {
    ...item,
    attachments: item.attachments.map((a: unknown) =>
      isRecord(a) && a.type === 'image' && typeof a.id === 'string'
        ? { ...a, preview_url: urls.downloadUrl(a.id, 'inline'), upload_descriptor: null }
        : a,
    ),
  };
}

function isRecord(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

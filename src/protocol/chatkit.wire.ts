/**
 * Turns protocol values into the exact bytes ChatKit.js expects (compact JSON, null keys
 * omitted, server-private fields stripped, SSE framing) and zod failures into short messages for
 * 400 responses. Every byte the client receives from `POST /chatkit` passes through here, so this
 * module must never leak server-private state (attachment, widget item or thread `metadata`) and must never
 * interpret opaque payloads (tool arguments/outputs, widget JSON, effect data) beyond dropping
 * null keys.
 */
import {
  isHiddenItem,
  type Page,
  type Thread,
  type ThreadItem,
  type ThreadMetadata,
  type ThreadStreamEvent,
} from 'src/protocol/chatkit.schemas';

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Drops every object key whose value is null or undefined, at any depth, as the reference's
 * `exclude_none` does. Array elements are positional, so they are kept (a null element stays
 * null). Dates become ISO strings via JSON.stringify later. Copies only what changes: a subtree
 * with nothing to drop comes back as the same object, so a clean page of items is walked, not
 * rebuilt (most of what a list answers is clean). A `__proto__` key is always copied, as the full
 * copy always did (assigning it sets the copy's prototype and drops the key).
 */
function dropNulls(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      const clean = dropNulls(child);
      if (out) out.push(clean);
      else if (clean !== child) out = [...value.slice(0, i), clean];
    }
    return out ?? value;
  }
  const record = value as JsonRecord;
  const keys = Object.keys(record);
  let out: JsonRecord | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const child = record[key];
    const drop = child === null || child === undefined;
    const clean = drop ? undefined : dropNulls(child);
    if (!out && (drop || clean !== child || key === '__proto__')) out = copyKeys(record, keys, i);
    if (out && !drop) out[key] = clean;
  }
  return out ?? value;
}

/** The first `count` keys of `record`, copied as they are (already known to be clean). */
function copyKeys(record: JsonRecord, keys: string[], count: number): JsonRecord {
  const out: JsonRecord = {};
  for (let i = 0; i < count; i++) out[keys[i]] = record[keys[i]];
  return out;
}

function looksLikeAttachment(value: JsonRecord): boolean {
  return (value.type === 'file' || value.type === 'image') && typeof value.mime_type === 'string';
}

function looksLikeThread(value: JsonRecord): boolean {
  return (
    typeof value.id === 'string' &&
    'created_at' in value &&
    isRecord(value.items) &&
    Array.isArray(value.items.data)
  );
}

function looksLikeThreadItem(value: JsonRecord): boolean {
  return (
    typeof value.id === 'string' && typeof value.thread_id === 'string' && typeof value.type === 'string'
  );
}

function looksLikePage(value: JsonRecord): boolean {
  return Array.isArray(value.data) && typeof value.has_more === 'boolean';
}

function stripAttachment(value: JsonRecord): JsonRecord {
  const { metadata: _private, ...rest } = value;
  return rest;
}

function sanitizeItem(item: JsonRecord): JsonRecord {
  // A widget item's `metadata` is the server's (e.g. the call a confirmation card stands for).
  if (item.type === 'widget' && 'metadata' in item) {
    const { metadata: _private, ...rest } = item;
    return rest;
  }
  if (item.type !== 'user_message' || !Array.isArray(item.attachments)) return item;
  return {
    ...item,
    attachments: item.attachments.map((a: unknown) => (isRecord(a) ? stripAttachment(a) : a)),
  };
}

function sanitizeThread(thread: JsonRecord): JsonRecord {
  const items = thread.items as JsonRecord;
  return { ...thread, metadata: {}, items: sanitizePage(items) };
}

function sanitizePage(page: JsonRecord): JsonRecord {
  return { ...page, data: (page.data as unknown[]).map(sanitizeProtocolValue) };
}

/**
 * Removes server-private fields from a protocol value. It only descends along protocol
 * containers (event → thread/item, page → data, thread → items, sync result → item); opaque
 * payloads such as tool outputs are never inspected, so user data that happens to look like an
 * attachment is left alone.
 */
function sanitizeProtocolValue(value: unknown): unknown {
  if (!isRecord(value)) return value;
  switch (value.type) {
    case 'thread.created':
    case 'thread.updated':
      return isRecord(value.thread) ? { ...value, thread: sanitizeThread(value.thread) } : value;
    case 'thread.item.added':
    case 'thread.item.done':
    case 'thread.item.replaced':
      return isRecord(value.item) ? { ...value, item: sanitizeItem(value.item) } : value;
  }
  if (looksLikeThread(value)) return sanitizeThread(value);
  // Before the item check: a saved attachment carries `id`, `thread_id` and `type` too.
  if (looksLikeAttachment(value)) return stripAttachment(value);
  if (looksLikeThreadItem(value)) return sanitizeItem(value);
  if (looksLikePage(value)) return sanitizePage(value);
  if (isRecord(value.updated_item)) return { ...value, updated_item: sanitizeItem(value.updated_item) };
  return value;
}

/**
 * Compact JSON for any protocol value: a stream event, a Thread, a Page of threads or items, an
 * Attachment, a sync action result, `{text}` or `{}`.
 */
export function toWireJson(value: unknown): string {
  return JSON.stringify(dropNulls(sanitizeProtocolValue(value)));
}

/** One SSE frame: no `event:`/`id:` lines, exactly one `data:` line per event. */
export function sseFrame(event: ThreadStreamEvent): string {
  return `data: ${textDeltaJson(event) ?? toWireJson(event)}\n\n`;
}

/**
 * The JSON of a text delta, written directly: it is most frames of a stream, and its shape is
 * fixed (two strings and a number, no nulls, nothing private), so the deep clean of toWireJson
 * would copy it for nothing. The keys are in the order every producer builds them, so the bytes
 * are those toWireJson would write (chatkit.wire.spec.ts holds both paths to that). Anything
 * else, or a delta that is not plainly shaped, returns undefined and takes the full path.
 */
export function textDeltaJson(event: ThreadStreamEvent): string | undefined {
  if (event.type !== 'thread.item.updated') return undefined;
  const update = event.update;
  if (update.type !== 'assistant_message.content_part.text_delta') return undefined;
  if (typeof event.item_id !== 'string' || typeof update.delta !== 'string') return undefined;
  if (!Number.isFinite(update.content_index)) return undefined;
  return (
    `{"type":"thread.item.updated","item_id":${JSON.stringify(event.item_id)},` +
    `"update":{"type":"assistant_message.content_part.text_delta","content_index":${update.content_index},` +
    `"delta":${JSON.stringify(update.delta)}}}`
  );
}

const EMPTY_ITEMS_PAGE: Page<ThreadItem> = { data: [], has_more: false };

/**
 * Builds the client-facing Thread from stored metadata, rebuilding it field by field so that
 * nothing private (or an `items` left on the stored object) can leak. Hidden items are removed
 * here because no thread response may ever show them; `has_more`/`after` are passed through
 * untouched, as the reference does.
 */
export function toWireThread(metadata: ThreadMetadata, items: Page<ThreadItem> = EMPTY_ITEMS_PAGE): Thread {
  return {
    id: metadata.id,
    title: metadata.title,
    created_at: metadata.created_at,
    status: metadata.status,
    allowed_image_domains: metadata.allowed_image_domains,
    metadata: {},
    items: {
      data: items.data.filter((item) => !isHiddenItem(item)),
      has_more: items.has_more,
      after: items.after,
    },
  };
}

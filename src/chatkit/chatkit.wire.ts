/**
 * Turns protocol values into the exact bytes ChatKit.js expects (compact JSON, null keys
 * omitted, server-private fields stripped, SSE framing) and zod failures into short messages for
 * 400 responses. Every byte the client receives from `POST /chatkit` passes through here, so this
 * module must never leak server-private state (attachment or thread `metadata`) and must never
 * interpret opaque payloads (tool arguments/outputs, widget JSON, effect data) beyond dropping
 * null keys.
 */
import { z } from 'zod';
import {
  isHiddenItem,
  type Page,
  type Thread,
  type ThreadItem,
  type ThreadMetadata,
  type ThreadStreamEvent,
} from 'src/chatkit/chatkit.schemas';

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Drops every object key whose value is null or undefined, at any depth, as the reference's
 * `exclude_none` does. Array elements are positional, so they are kept (a null element stays
 * null). Dates become ISO strings via JSON.stringify later.
 */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isRecord(value) || value instanceof Date) return value;
  const out: JsonRecord = {};
  for (const [key, child] of Object.entries(value)) {
    if (child === null || child === undefined) continue;
    out[key] = dropNulls(child);
  }
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
  return `data: ${toWireJson(event)}\n\n`;
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

// ---------------------------------------------------------------------------------------------
// Validation errors
// ---------------------------------------------------------------------------------------------

const MAX_REPORTED_ISSUES = 3;
/** zod's internal type names, as a client author would say them. */
const EXPECTED_NAMES: Record<string, string> = { record: 'object', int: 'integer' };
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `params.input.content[0].type`; the request body itself is called `body`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out || 'body';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      // zod's own message carries the received type ("…, received string"), which the issue lacks.
      if (/received undefined$/.test(issue.message)) return 'required';
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      const received = /received (\w+)$/.exec(issue.message)?.[1];
      return received ? `expected ${expected}, received ${received}` : `expected ${expected}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_union':
      // Discriminated unions report the allowed tags; plain unions only their failed branches.
      if ('options' in issue && issue.options?.length)
        return `expected one of ${issue.options.map(String).join(', ')}`;
      return 'does not match any allowed shape';
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'string' && issue.minimum === 1) return 'must not be empty';
      if (issue.origin === 'array') return `must have at least ${min} element(s)`;
      if (issue.origin === 'string') return `must be at least ${min} characters`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${min}`;
    }
    case 'too_big': {
      const max = String(issue.maximum);
      if (issue.origin === 'array') return `must have at most ${max} element(s)`;
      if (issue.origin === 'string') return `must be at most ${max} characters`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${max}`;
    }
    case 'invalid_format':
      return `expected a ${issue.format} string`;
    case 'unrecognized_keys':
      return `unknown key(s) ${issue.keys.join(', ')}`;
    default:
      return issue.message;
  }
}

/**
 * One line naming each failing field, e.g.
 * `params.input.content[0].type: expected one of input_text, input_tag`. Only the first few
 * issues are listed; a client that sends many wrong fields gets the idea from those.
 */
export function formatZodError(error: z.ZodError): string {
  const issues = error.issues;
  const shown = issues.slice(0, MAX_REPORTED_ISSUES).map((i) => `${formatPath(i.path)}: ${describeIssue(i)}`);
  const hidden = issues.length - shown.length;
  return hidden > 0 ? `${shown.join('; ')} (and ${hidden} more)` : shown.join('; ');
}

/**
 * What `POST /chatkit` answers, per request type. One path serves sixteen request types, half of
 * them answered with one JSON document and half with an event stream, so the operation lists
 * both media types on its 200, says per type which schema applies, and carries examples of the
 * main exchanges. The result table is typed against the protocol's request types: a new request
 * type does not compile until it is documented here.
 */
import type { z } from 'zod';
import { schemaId, schemaRef } from 'src/common/api-docs';
import {
  AttachmentSchema,
  ChatKitRequestSchema,
  EmptyResultSchema,
  STREAMING_REQUEST_TYPES,
  SyncCustomActionResultSchema,
  ThreadItemPageSchema,
  ThreadPageSchema,
  ThreadSchema,
  ThreadStreamEventSchema,
  TranscriptionResultSchema,
  type ChatKitRequest,
  type NonStreamingRequestType,
  type ThreadPage,
  type ThreadStreamEvent,
} from 'src/protocol/chatkit.schemas';

/** The JSON result of each non-streaming request type. */
export const CHATKIT_RESULTS: Record<NonStreamingRequestType, z.ZodType> = {
  'threads.get_by_id': ThreadSchema,
  'threads.list': ThreadPageSchema,
  'threads.update': ThreadSchema,
  'threads.delete': EmptyResultSchema,
  'threads.sync_custom_action': SyncCustomActionResultSchema,
  'items.list': ThreadItemPageSchema,
  'items.feedback': EmptyResultSchema,
  'attachments.create': AttachmentSchema,
  'attachments.delete': EmptyResultSchema,
  'input.transcribe': TranscriptionResultSchema,
};

const THREAD_ID = 'thr_5e0d8b1c2a9f4e7d6c3b2a1f0e9d8c7b6a5f4e';
const USER_ITEM_ID = 'msg_0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2';
const ASSISTANT_ITEM_ID = 'msg_9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7';
const CREATED_AT = '2026-01-15T09:30:00.000Z';

/** Example request bodies, by request type. */
export const CHATKIT_REQUEST_EXAMPLES: Record<string, ChatKitRequest> = {
  'threads.create': {
    type: 'threads.create',
    params: {
      input: {
        content: [{ type: 'input_text', text: 'What does our travel policy say about train tickets?' }],
        attachments: [],
        inference_options: {},
      },
    },
    metadata: {},
  },
  'threads.add_user_message': {
    type: 'threads.add_user_message',
    params: {
      thread_id: THREAD_ID,
      input: {
        content: [{ type: 'input_text', text: 'And for first class?' }],
        attachments: [],
        inference_options: {},
      },
    },
    metadata: {},
  },
  'threads.list': { type: 'threads.list', params: { limit: 20, order: 'desc' }, metadata: {} },
  'items.list': {
    type: 'items.list',
    params: { thread_id: THREAD_ID, limit: 50, order: 'asc' },
    metadata: {},
  },
  'attachments.create': {
    type: 'attachments.create',
    params: { name: 'report.pdf', size: 48213, mime_type: 'application/pdf' },
    metadata: {},
  },
};

/** The answer of `threads.list`. */
export const THREAD_PAGE_EXAMPLE: ThreadPage = {
  data: [
    {
      id: THREAD_ID,
      created_at: CREATED_AT,
      title: 'Travel policy: train tickets',
      status: { type: 'active' },
      metadata: {},
      items: { data: [], has_more: false },
    },
  ],
  has_more: false,
};

/** The stream of a `threads.create`, frame by frame (the assistant's answer is shortened). */
export const STREAM_EXAMPLE_EVENTS: ThreadStreamEvent[] = [
  {
    type: 'thread.created',
    thread: {
      id: THREAD_ID,
      created_at: CREATED_AT,
      status: { type: 'active' },
      metadata: {},
      items: { data: [], has_more: false },
    },
  },
  {
    type: 'thread.item.done',
    item: {
      id: USER_ITEM_ID,
      thread_id: THREAD_ID,
      created_at: CREATED_AT,
      type: 'user_message',
      content: [{ type: 'input_text', text: 'What does our travel policy say about train tickets?' }],
      attachments: [],
      inference_options: {},
    },
  },
  { type: 'stream_options', stream_options: { allow_cancel: true } },
  {
    type: 'thread.item.added',
    item: {
      id: ASSISTANT_ITEM_ID,
      thread_id: THREAD_ID,
      created_at: CREATED_AT,
      type: 'assistant_message',
      content: [],
    },
  },
  {
    type: 'thread.item.updated',
    item_id: ASSISTANT_ITEM_ID,
    update: {
      type: 'assistant_message.content_part.added',
      content_index: 0,
      content: { type: 'output_text', text: '', annotations: [] },
    },
  },
  {
    type: 'thread.item.updated',
    item_id: ASSISTANT_ITEM_ID,
    update: {
      type: 'assistant_message.content_part.text_delta',
      content_index: 0,
      delta: 'Second class is the default.',
    },
  },
  {
    type: 'thread.item.done',
    item: {
      id: ASSISTANT_ITEM_ID,
      thread_id: THREAD_ID,
      created_at: CREATED_AT,
      type: 'assistant_message',
      content: [{ type: 'output_text', text: 'Second class is the default.', annotations: [] }],
    },
  },
  {
    type: 'thread.updated',
    thread: {
      id: THREAD_ID,
      created_at: CREATED_AT,
      title: 'Travel policy: train tickets',
      status: { type: 'active' },
      metadata: {},
      items: { data: [], has_more: false },
    },
  },
];

/** SSE framing of the example stream, as it appears on the wire. */
export function streamExample(): string {
  return STREAM_EXAMPLE_EVENTS.map((event) => `data: ${JSON.stringify(event)}\n\n`).join('');
}

function responseTable(): string {
  const rows = [
    ...STREAMING_REQUEST_TYPES.map(
      (type) => `| \`${type}\` | \`text/event-stream\` | \`ThreadStreamEvent\` (one per \`data:\` frame) |`,
    ),
    ...Object.entries(CHATKIT_RESULTS).map(
      ([type, schema]) => `| \`${type}\` | \`application/json\` | \`${schemaId(schema)}\` |`,
    ),
  ];
  return ['| Request `type` | Content type | Body |', '| --- | --- | --- |', ...rows].join('\n');
}

interface Operation {
  description?: string;
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

/** Fills in the request body and the 200 of the `POST /chatkit` operation. */
export function describeChatKitOperation(operation: Operation): void {
  operation.description = [
    'The ChatKit protocol: one JSON body `{type, params, metadata?}`; `type` picks the operation and the kind of answer.',
    '',
    responseTable(),
    '',
    'A stream is `text/event-stream` with one `data: <ThreadStreamEvent as JSON>` frame per event and no `event:` or `id:` lines. ' +
      'Errors found before the stream opens answer with an `ErrorResponse` and the status below; errors after it opened arrive as an `error` event and the stream ends.',
  ].join('\n');
  operation.requestBody = {
    required: true,
    content: {
      'application/json': {
        schema: schemaRef(ChatKitRequestSchema),
        examples: Object.fromEntries(
          Object.entries(CHATKIT_REQUEST_EXAMPLES).map(([type, value]) => [type, { summary: type, value }]),
        ),
      },
    },
  };
  const results = [...new Set(Object.values(CHATKIT_RESULTS).map((schema) => schemaId(schema)))].sort();
  operation.responses['200'] = {
    description: 'The JSON result of the request type, or its event stream (see the table above)',
    content: {
      'application/json': {
        // anyOf, not oneOf: an empty page of threads is also a valid empty page of items.
        schema: { anyOf: results.map((id) => ({ $ref: `#/components/schemas/${id}` })) },
        examples: { 'threads.list': { summary: 'threads.list', value: THREAD_PAGE_EXAMPLE } },
      },
      'text/event-stream': {
        schema: schemaRef(ThreadStreamEventSchema),
        example: streamExample(),
      },
    },
  };
}

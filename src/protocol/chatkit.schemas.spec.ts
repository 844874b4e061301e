import { z } from 'zod';
import {
  AnnotationSchema,
  AssistantMessageContentSchema,
  AttachmentSchema,
  CHATKIT_REQUEST_TYPES,
  ChatKitRequestSchema,
  ClientEffectEventSchema,
  EmptyResultSchema,
  ErrorEventSchema,
  InputTagContentSchema,
  isHiddenItem,
  isStreamingRequest,
  NON_STREAMING_REQUEST_TYPES,
  PageSchema,
  resolvePageLimit,
  STREAMING_REQUEST_TYPES,
  StructuredInputSubmissionSchema,
  SyncCustomActionResultSchema,
  TaskSchema,
  ThreadItemPageSchema,
  ThreadItemSchema,
  ThreadMetadataSchema,
  ThreadPageSchema,
  ThreadSchema,
  ThreadStatusSchema,
  ThreadStreamEventSchema,
  TranscriptionResultSchema,
  UploadDescriptorSchema,
  UserMessageInputSchema,
  WorkflowSchema,
  type ChatKitRequest,
} from 'src/protocol/chatkit.schemas';
import { toWireJson } from 'src/protocol/chatkit.wire';

/** Parses a captured wire sample and checks that re-serializing it yields the same JSON. */
function roundTrip(schema: z.ZodType, wire: string): unknown {
  const original: unknown = JSON.parse(wire);
  const parsed = schema.parse(original);
  expect(JSON.parse(toWireJson(parsed))).toEqual(original);
  return parsed;
}

const T0 = '2026-11-22T02:48:29.799394';
const T1 = '2026-11-22T02:48:29.809624';

// Fact sheet §10: the threads.create request and the exact SSE frames the reference answered with.
const CREATE_REQUEST =
  '{"type":"threads.create","params":{"input":{"content":[{"type":"input_text","text":"Hello "},{"type":"input_tag","id":"e1","text":"Ent","data":{"k":1}}],"attachments":["atc_3155ac7a"],"inference_options":{"model":"gpt","tool_choice":{"id":"web"}},"quoted_text":"q"}},"metadata":{"foo":"bar"}}';

const CREATE_STREAM = `data: {"type":"thread.created","thread":{"id":"thr_a77098ee","created_at":"2026-11-22T02:48:29.799394","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}}

data: {"type":"thread.item.done","item":{"id":"msg_fd945f5b","thread_id":"thr_a77098ee","created_at":"2026-11-22T02:48:29.809624","type":"user_message","content":[{"type":"input_text","text":"Hello "},{"type":"input_tag","id":"e1","text":"Ent","data":{"k":1},"interactive":false}],"attachments":[{"id":"atc_3155ac7a","name":"a.png","mime_type":"image/png","upload_descriptor":{"url":"https://files.example/atc_3155ac7a","method":"PUT","headers":{"x-h":"1"}},"thread_id":"thr_a77098ee","type":"image","preview_url":"https://files.example/atc_3155ac7a/p"}],"quoted_text":"q","inference_options":{"tool_choice":{"id":"web"},"model":"gpt"}}}

data: {"type":"stream_options","stream_options":{"allow_cancel":true}}

data: {"type":"thread.item.added","item":{"id":"msg_ff1f7920","thread_id":"thr_a77098ee","created_at":"2026-11-22T02:48:29.820854","type":"assistant_message","content":[]}}

data: {"type":"thread.item.updated","item_id":"msg_ff1f7920","update":{"type":"assistant_message.content_part.added","content_index":0,"content":{"annotations":[],"text":"","type":"output_text"}}}

data: {"type":"thread.item.updated","item_id":"msg_ff1f7920","update":{"type":"assistant_message.content_part.text_delta","content_index":0,"delta":"Hi"}}

data: {"type":"thread.item.updated","item_id":"msg_ff1f7920","update":{"type":"assistant_message.content_part.annotation_added","content_index":0,"annotation_index":0,"annotation":{"type":"annotation","source":{"title":"A","type":"url","url":"https://a.example"},"index":2}}}

data: {"type":"thread.item.updated","item_id":"msg_ff1f7920","update":{"type":"assistant_message.content_part.done","content_index":0,"content":{"annotations":[],"text":"Hi","type":"output_text"}}}

data: {"type":"thread.item.done","item":{"id":"msg_ff1f7920","thread_id":"thr_a77098ee","created_at":"2026-11-22T02:48:29.839664","type":"assistant_message","content":[{"annotations":[{"type":"annotation","source":{"title":"A","type":"url","url":"https://a.example"},"index":2}],"text":"Hi","type":"output_text"}]}}

data: {"type":"thread.updated","thread":{"title":"New title","id":"thr_a77098ee","created_at":"2026-11-22T02:48:29.799394","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}}

`;

const USER_MESSAGE = `{"id":"msg_fd945f5b","thread_id":"thr_a77098ee","created_at":"${T1}","type":"user_message","content":[{"type":"input_text","text":"Hello "}],"attachments":[],"inference_options":{}}`;
const ASSISTANT_MESSAGE = `{"id":"msg_ff1f7920","thread_id":"thr_a77098ee","created_at":"${T1}","type":"assistant_message","content":[{"annotations":[],"text":"Hi","type":"output_text"}]}`;
const THREAD = (title: string) =>
  `{"title":"${title}","id":"thr_a77098ee","created_at":"${T0}","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}`;
const item = (fields: string) => `{"id":"x_1","thread_id":"thr_a77098ee","created_at":"${T1}",${fields}}`;

// Fact sheet §10: non-streaming responses ("…" placeholders filled with concrete values).
const RESPONSES: Array<[string, z.ZodType, string]> = [
  [
    'attachments.create (image)',
    AttachmentSchema,
    '{"id":"atc_3155ac7a","name":"a.png","mime_type":"image/png","upload_descriptor":{"url":"https://files.example/atc_3155ac7a","method":"PUT","headers":{"x-h":"1"}},"type":"image","preview_url":"https://files.example/atc_3155ac7a/p"}',
  ],
  [
    'attachments.create (file)',
    AttachmentSchema,
    '{"id":"atc_dfb74e81","name":"a.txt","mime_type":"text/plain","upload_descriptor":{"url":"https://files.example/atc_dfb74e81","method":"POST","headers":{}},"type":"file"}',
  ],
  ['threads.list', ThreadPageSchema, `{"data":[${THREAD('New title')}],"has_more":false}`],
  [
    'items.list (limit 2, asc)',
    ThreadItemPageSchema,
    `{"data":[${USER_MESSAGE},${ASSISTANT_MESSAGE}],"has_more":true,"after":"msg_ff1f7920"}`,
  ],
  ['threads.update', ThreadSchema, THREAD('Renamed')],
  ['threads.delete / items.feedback / attachments.delete', EmptyResultSchema, '{}'],
  ['input.transcribe', TranscriptionResultSchema, '{"text":"hello there"}'],
  [
    'threads.sync_custom_action',
    SyncCustomActionResultSchema,
    `{"updated_item":{"id":"msg_b9a88f80","thread_id":"thr_a77098ee","created_at":"${T1}","type":"widget","widget":{"type":"Card","children":[{"id":"t","type":"Text","value":"w"}]},"copy_text":"copy"}}`,
  ],
  ['threads.sync_custom_action (no update)', SyncCustomActionResultSchema, '{}'],
];

// Fact sheet §10: other event and item shapes observed.
const EVENTS: string[] = [
  `{"type":"thread.item.done","item":${item('"type":"client_tool_call","status":"pending","call_id":"call_1","name":"get_sel","arguments":{"a":1}')}}`,
  '{"type":"progress_update","icon":"search","text":"working"}',
  '{"type":"error","code":"stream.error","allow_retry":true}',
  '{"type":"error","code":"custom","message":"Custom msg","allow_retry":true}',
  '{"type":"notice","level":"info","message":"hello **md**","title":"T"}',
  '{"type":"client_effect","name":"fx","data":{"x":1}}',
  '{"type":"thread.item.removed","item_id":"eot_1"}',
  `{"type":"thread.item.done","item":${item('"type":"end_of_turn"')}}`,
  `{"type":"thread.item.added","item":${item('"type":"workflow","workflow":{"type":"custom","tasks":[{"status_indicator":"loading","type":"custom","title":"t1","icon":"search"}],"expanded":false}')}}`,
  '{"type":"thread.item.updated","item_id":"wf_1","update":{"type":"workflow.task.added","task_index":1,"task":{"status_indicator":"none","type":"thought","content":"thinking"}}}',
  '{"type":"thread.item.updated","item_id":"wf_1","update":{"type":"workflow.task.updated","task_index":0,"task":{"status_indicator":"complete","type":"custom","title":"t1"}}}',
  `{"type":"thread.item.done","item":${item('"type":"workflow","workflow":{"type":"custom","tasks":[{"status_indicator":"complete","type":"custom","title":"t1"},{"status_indicator":"none","type":"thought","content":"thinking"}],"summary":{"duration":3},"expanded":false}')}}`,
  `{"type":"thread.item.done","item":${item('"type":"task","task":{"status_indicator":"none","type":"web_search","title":"s","queries":["q"],"sources":[{"title":"U","type":"url","url":"https://u"}]}')}}`,
  `{"type":"thread.item.added","item":${item('"type":"generated_image"')}}`,
  '{"type":"thread.item.updated","item_id":"img_1","update":{"type":"generated_image.updated","image":{"id":"ig","url":"data:image/png;base64,AA"},"progress":0.5}}',
  `{"type":"thread.item.done","item":${item('"type":"generated_image","image":{"id":"ig","url":"https://img"}')}}`,
  `{"type":"thread.item.added","item":${item('"type":"structured_input","status":"pending","inputs":[{"id":"q1","question":"Pick","type":"multiple_choice","options":[{"value":"A"},{"value":"B"}],"multiple":false},{"id":"q2","question":"Notes","type":"freeform","description":"d"}]')}}`,
  `{"type":"thread.item.replaced","item":${item('"type":"structured_input","status":"answered","inputs":[{"id":"q1","question":"Pick","answer":{"values":["A"],"skipped":false},"type":"multiple_choice","options":[{"value":"A"},{"value":"B"}],"multiple":false},{"id":"q2","question":"Notes","answer":{"values":[],"skipped":true},"type":"freeform","description":"d"}]')}}`,
  `{"type":"thread.created","thread":{"id":"thr_1","created_at":"${T0}","status":{"type":"locked","reason":"r"},"allowed_image_domains":["img.example"],"metadata":{},"items":{"data":[],"has_more":false}}}`,
];

describe('captured wire samples (fact sheet §10)', () => {
  it('parses the threads.create request with defaults applied', () => {
    const req = ChatKitRequestSchema.parse(JSON.parse(CREATE_REQUEST));
    expect(req.type).toBe('threads.create');
    if (req.type !== 'threads.create') return;
    expect(req.metadata).toEqual({ foo: 'bar' });
    expect(req.params.input.content[1]).toEqual({
      type: 'input_tag',
      id: 'e1',
      text: 'Ent',
      data: { k: 1 },
      interactive: false,
    });
    expect(req.params.input.attachments).toEqual(['atc_3155ac7a']);
    expect(req.params.input.inference_options).toEqual({ model: 'gpt', tool_choice: { id: 'web' } });
    expect(req.params.input.quoted_text).toBe('q');
  });

  const frames = CREATE_STREAM.split('\n\n').filter((f) => f.length > 0);

  it('has all ten captured frames', () => expect(frames).toHaveLength(10));

  it.each(frames.map((f, i) => [i, f] as const))(
    'frame %i parses and re-serializes identically',
    (_i, frame) => {
      expect(frame.startsWith('data: ')).toBe(true);
      roundTrip(ThreadStreamEventSchema, frame.slice('data: '.length));
    },
  );

  it.each(RESPONSES)('%s response parses and re-serializes identically', (_name, schema, wire) => {
    roundTrip(schema, wire);
  });

  it.each(EVENTS.map((e) => [JSON.parse(e).type as string, e] as const))(
    '%s event parses and re-serializes identically',
    (_type, wire) => {
      roundTrip(ThreadStreamEventSchema, wire);
    },
  );

  it('completed client tool call item round-trips with its output', () => {
    roundTrip(
      ThreadItemSchema,
      item(
        '"type":"client_tool_call","status":"completed","call_id":"call_1","name":"get_sel","arguments":{"a":1},"output":{"ok":true}',
      ),
    );
  });

  it('entity and file annotations round-trip', () => {
    roundTrip(
      AnnotationSchema,
      '{"type":"annotation","source":{"title":"E","type":"entity","id":"e1","icon":"suitcase","inline_label":"L","interactive":true,"data":{"h":1}}}',
    );
    roundTrip(
      AnnotationSchema,
      '{"type":"annotation","source":{"title":"F","type":"file","filename":"f.pdf"},"index":0}',
    );
  });
});

describe('defaults', () => {
  const base = { id: 'i', thread_id: 't', created_at: T1 };

  it('user message input defaults attachments and inference_options', () => {
    expect(UserMessageInputSchema.parse({ content: [{ type: 'input_text', text: 'x' }] })).toEqual({
      content: [{ type: 'input_text', text: 'x' }],
      attachments: [],
      inference_options: {},
    });
  });

  it('input_tag defaults data to {} and interactive to false', () => {
    expect(InputTagContentSchema.parse({ type: 'input_tag', id: 'e', text: 'E' })).toEqual({
      type: 'input_tag',
      id: 'e',
      text: 'E',
      data: {},
      interactive: false,
    });
  });

  it('user message item defaults attachments and inference_options', () => {
    const parsed = ThreadItemSchema.parse({ ...base, type: 'user_message', content: [] });
    expect(parsed).toMatchObject({ attachments: [], inference_options: {} });
  });

  it('assistant content defaults annotations to []', () => {
    expect(AssistantMessageContentSchema.parse({ type: 'output_text', text: 'a' }).annotations).toEqual([]);
  });

  it('client tool call defaults status to pending and keeps output absent', () => {
    const parsed = ThreadItemSchema.parse({
      ...base,
      type: 'client_tool_call',
      call_id: 'c',
      name: 'n',
      arguments: {},
    });
    expect(parsed).toMatchObject({ status: 'pending' });
    expect('output' in parsed).toBe(false);
  });

  it('structured input item defaults status to pending and multiple to false', () => {
    const parsed = ThreadItemSchema.parse({
      ...base,
      type: 'structured_input',
      inputs: [{ id: 'q', question: 'Q', type: 'multiple_choice', options: [{ value: 'A' }] }],
    });
    expect(parsed).toMatchObject({ status: 'pending', inputs: [{ multiple: false }] });
  });

  it('structured input submission defaults status, answers and answer fields', () => {
    expect(StructuredInputSubmissionSchema.parse({})).toEqual({ status: 'answered', answers: {} });
    expect(StructuredInputSubmissionSchema.parse({ answers: { q: {} } })).toEqual({
      status: 'answered',
      answers: { q: { values: [], skipped: false } },
    });
  });

  it('tasks default status_indicator to none and lists to []', () => {
    expect(TaskSchema.parse({ type: 'web_search' })).toEqual({
      type: 'web_search',
      status_indicator: 'none',
      queries: [],
      sources: [],
    });
    expect(TaskSchema.parse({ type: 'file' })).toEqual({
      type: 'file',
      status_indicator: 'none',
      sources: [],
    });
  });

  it('workflow defaults expanded to false and accepts both summary shapes', () => {
    expect(WorkflowSchema.parse({ type: 'reasoning', tasks: [] }).expanded).toBe(false);
    expect(WorkflowSchema.parse({ type: 'custom', tasks: [], summary: { duration: 4 } }).summary).toEqual({
      duration: 4,
    });
    expect(
      WorkflowSchema.parse({ type: 'custom', tasks: [], summary: { title: 'Done', icon: 'check' } }).summary,
    ).toEqual({ title: 'Done', icon: 'check' });
    expect(WorkflowSchema.safeParse({ type: 'custom', tasks: [], summary: { nope: 1 } }).success).toBe(false);
  });

  it('thread metadata defaults status to active and metadata to {}', () => {
    expect(ThreadMetadataSchema.parse({ id: 'thr', created_at: T0 })).toEqual({
      id: 'thr',
      created_at: T0,
      status: { type: 'active' },
      metadata: {},
    });
  });

  it('pages default has_more to false', () => {
    expect(PageSchema(z.string()).parse({ data: ['a'] })).toEqual({ data: ['a'], has_more: false });
  });

  it('error events default code to custom and allow_retry to false', () => {
    expect(ErrorEventSchema.parse({ type: 'error', message: 'm' })).toEqual({
      type: 'error',
      code: 'custom',
      message: 'm',
      allow_retry: false,
    });
  });

  it('client effects default data to {}', () => {
    expect(ClientEffectEventSchema.parse({ type: 'client_effect', name: 'fx' }).data).toEqual({});
  });

  it('entity sources default interactive and data', () => {
    const parsed = AnnotationSchema.parse({
      type: 'annotation',
      source: { type: 'entity', title: 'E', id: 'e' },
    });
    expect(parsed.source).toEqual({ type: 'entity', title: 'E', id: 'e', interactive: false, data: {} });
  });

  it('upload descriptor headers default to {}', () => {
    expect(UploadDescriptorSchema.parse({ url: 'https://u', method: 'POST' }).headers).toEqual({});
  });

  it('list requests default order to desc and metadata to {}', () => {
    expect(ChatKitRequestSchema.parse({ type: 'items.list', params: { thread_id: 't' } })).toEqual({
      type: 'items.list',
      params: { thread_id: 't', order: 'desc' },
      metadata: {},
    });
  });

  it('limit 0 and missing limit resolve to the default page size', () => {
    expect(resolvePageLimit(0)).toBe(20);
    expect(resolvePageLimit(undefined)).toBe(20);
    expect(resolvePageLimit(null)).toBe(20);
    expect(resolvePageLimit(5)).toBe(5);
  });
});

describe('leniency and strictness', () => {
  it('ignores unknown keys at every level of a request', () => {
    const parsed = ChatKitRequestSchema.parse({
      type: 'threads.add_user_message',
      extra: 1,
      params: {
        thread_id: 't',
        surprise: true,
        input: {
          content: [{ type: 'input_text', text: 'x', bold: true }],
          attachments: [],
          inference_options: {},
          x: 1,
        },
      },
    });
    expect(parsed).toEqual({
      type: 'threads.add_user_message',
      params: {
        thread_id: 't',
        input: { content: [{ type: 'input_text', text: 'x' }], attachments: [], inference_options: {} },
      },
      metadata: {},
    });
  });

  it('accepts null for optional request fields, as the reference does', () => {
    const parsed = ChatKitRequestSchema.parse({ type: 'threads.list', params: { limit: null, after: null } });
    expect(parsed).toMatchObject({ params: { limit: null, after: null, order: 'desc' } });
  });

  it('keeps widget JSON verbatim, including unknown components and props', () => {
    const widget = {
      type: 'Card',
      border: { size: 1 },
      children: [{ type: 'Table', rows: [[{ type: 'Table.Cell' }]] }],
    };
    const parsed = ThreadItemSchema.parse({
      id: 'w',
      thread_id: 't',
      created_at: T1,
      type: 'widget',
      widget,
    });
    expect(parsed).toMatchObject({ widget });
  });

  it('accepts Z-suffixed and offset timestamps but not garbage', () => {
    const meta = (created_at: string) => ThreadMetadataSchema.safeParse({ id: 't', created_at }).success;
    expect(meta('2026-11-22T02:48:29.799Z')).toBe(true);
    expect(meta('2026-11-22T02:48:29+02:00')).toBe(true);
    expect(meta('yesterday')).toBe(false);
  });

  it('requires preview_url on image attachments only', () => {
    const att = { id: 'a', name: 'n', mime_type: 'image/png' };
    expect(AttachmentSchema.safeParse({ ...att, type: 'image' }).success).toBe(false);
    expect(AttachmentSchema.safeParse({ ...att, type: 'file' }).success).toBe(true);
  });

  it('knows the three thread statuses', () => {
    expect(ThreadStatusSchema.parse({ type: 'closed', reason: 'done' })).toEqual({
      type: 'closed',
      reason: 'done',
    });
    expect(ThreadStatusSchema.safeParse({ type: 'archived' }).success).toBe(false);
  });

  it('accepts a null client tool result but not a missing one', () => {
    const body = (params: object) => ({
      type: 'threads.add_client_tool_output',
      params: { thread_id: 't', ...params },
    });
    expect(ChatKitRequestSchema.safeParse(body({ result: null })).success).toBe(true);
    expect(ChatKitRequestSchema.safeParse(body({})).success).toBe(false);
  });
});

describe('request classification', () => {
  const unionTypes = ChatKitRequestSchema.options.map((o) => o.shape.type.value);

  it('classifies each of the 16 request types exactly once', () => {
    expect(unionTypes).toHaveLength(16);
    expect([...CHATKIT_REQUEST_TYPES].sort()).toEqual([...unionTypes].sort());
    const overlap = STREAMING_REQUEST_TYPES.filter((t) =>
      (NON_STREAMING_REQUEST_TYPES as readonly string[]).includes(t),
    );
    expect(overlap).toEqual([]);
  });

  it('streams custom_action but not sync_custom_action', () => {
    const action = { thread_id: 't', action: { type: 'a' } };
    const streamed = ChatKitRequestSchema.parse({ type: 'threads.custom_action', params: action });
    const sync = ChatKitRequestSchema.parse({ type: 'threads.sync_custom_action', params: action });
    expect(isStreamingRequest(streamed)).toBe(true);
    expect(isStreamingRequest(sync)).toBe(false);
  });

  it('matches the fact sheet table', () => {
    const streaming = (type: string) => isStreamingRequest({ type } as ChatKitRequest);
    expect(unionTypes.filter(streaming).sort()).toEqual(
      [
        'threads.add_client_tool_output',
        'threads.add_structured_input',
        'threads.add_user_message',
        'threads.create',
        'threads.custom_action',
        'threads.retry_after_item',
      ].sort(),
    );
  });

  it('recognizes the hidden item types', () => {
    const hidden = ThreadItemSchema.parse({
      id: 'h',
      thread_id: 't',
      created_at: T1,
      type: 'sdk_hidden_context',
      content: 'c',
    });
    const shown = ThreadItemSchema.parse({ id: 'e', thread_id: 't', created_at: T1, type: 'end_of_turn' });
    expect(isHiddenItem(hidden)).toBe(true);
    expect(isHiddenItem(shown)).toBe(false);
  });
});

describe('JSON Schema generation (OpenAPI)', () => {
  it('can describe requests as input and events as output', () => {
    const request = z.toJSONSchema(ChatKitRequestSchema, { io: 'input' });
    expect(JSON.stringify(request)).toContain('threads.add_structured_input');
    const events = z.toJSONSchema(ThreadStreamEventSchema, { io: 'output' });
    expect(JSON.stringify(events)).toContain('widget.streaming_text.value_delta');
  });
});

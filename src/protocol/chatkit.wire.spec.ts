import { z } from 'zod';
import {
  AttachmentSchema,
  ChatKitRequestSchema,
  ThreadItemSchema,
  ThreadMetadataSchema,
  ThreadStreamEventSchema,
  WorkflowSchema,
  type Page,
  type ThreadItem,
  type ThreadStreamEvent,
} from 'src/protocol/chatkit.schemas';
import { sseFrame, textDeltaJson, toWireJson, toWireThread } from 'src/protocol/chatkit.wire';
import { formatZodError } from 'src/common/zod-errors';

const T = '2026-01-02T03:04:05.000Z';

const privateAttachment = {
  id: 'atc_1',
  name: 'a.png',
  mime_type: 'image/png',
  type: 'image' as const,
  preview_url: 'https://files.example/atc_1/p',
  thread_id: 'thr_1',
  upload_descriptor: null,
  metadata: { storage_key: 'bucket/secret-key' },
};

const userMessage: ThreadItem = ThreadItemSchema.parse({
  id: 'msg_1',
  thread_id: 'thr_1',
  created_at: T,
  type: 'user_message',
  content: [{ type: 'input_text', text: 'hi' }],
  attachments: [privateAttachment],
});

const wire = (value: unknown): any => JSON.parse(toWireJson(value));

describe('toWireJson', () => {
  it('emits compact JSON', () => {
    expect(toWireJson({ type: 'progress_update', text: 'a b', icon: 'search' })).toBe(
      '{"type":"progress_update","text":"a b","icon":"search"}',
    );
  });

  it('drops null and undefined keys at every depth but keeps array elements', () => {
    const value = {
      a: null,
      b: undefined,
      c: { d: null, e: { f: undefined, g: 1 } },
      list: [null, { h: null, i: 2 }, 3],
      keep: { zero: 0, empty: '', no: false, nested: [] },
    };
    expect(toWireJson(value)).toBe(
      '{"c":{"e":{"g":1}},"list":[null,{"i":2},3],"keep":{"zero":0,"empty":"","no":false,"nested":[]}}',
    );
  });

  it('drops a null found after clean keys and elements, keeping their order', () => {
    const value = {
      first: { kept: [1, { deep: 'x' }] },
      list: [{ clean: 1 }, { clean: 2, gone: null }, { clean: 3 }],
      last: { a: 1, b: { c: 2, d: null }, e: 3 },
    };
    expect(toWireJson(value)).toBe(
      '{"first":{"kept":[1,{"deep":"x"}]},"list":[{"clean":1},{"clean":2},{"clean":3}],"last":{"a":1,"b":{"c":2},"e":3}}',
    );
    // Nothing is changed in place: the null is still there for the caller.
    expect(value.last.b.d).toBeNull();
    expect(value.list[1]).toEqual({ clean: 2, gone: null });
  });

  it('writes a clean page of items as JSON.stringify does, dates included', () => {
    const page = {
      data: [
        {
          id: 'm1',
          thread_id: 't1',
          type: 'assistant_message',
          created_at: T,
          content: [{ type: 'output_text', text: 'hi', annotations: [] }],
        },
        {
          id: 'm2',
          thread_id: 't1',
          type: 'widget',
          created_at: new Date(T),
          widget: { type: 'Card', children: [null, 'a'] },
        },
      ],
      has_more: false,
    };
    expect(toWireJson(page)).toBe(JSON.stringify(page));
  });

  it('leaves out a __proto__ key of a payload, as the full copy did', () => {
    const value = JSON.parse('{"a":{"__proto__":{"x":1},"b":2}}') as object;
    expect(toWireJson(value)).toBe('{"a":{"b":2}}');
  });

  it('omits null optional protocol fields such as title, after and message', () => {
    expect(wire({ type: 'error', code: 'stream.error', message: null, allow_retry: true })).toEqual({
      type: 'error',
      code: 'stream.error',
      allow_retry: true,
    });
    expect(wire({ data: [], has_more: false, after: null })).toEqual({ data: [], has_more: false });
  });

  it('serializes Date values as ISO strings', () => {
    expect(toWireJson({ at: new Date(T) })).toBe(`{"at":"${T}"}`);
  });

  it('strips attachment metadata from an attachments.create result', () => {
    const out = wire(AttachmentSchema.parse(privateAttachment));
    expect(out).not.toHaveProperty('metadata');
    expect(out).toEqual({
      id: 'atc_1',
      name: 'a.png',
      mime_type: 'image/png',
      type: 'image',
      preview_url: 'https://files.example/atc_1/p',
      thread_id: 'thr_1',
    });
  });

  it('strips attachment metadata inside user messages wherever they appear', () => {
    const done: ThreadStreamEvent = { type: 'thread.item.done', item: userMessage };
    const added: ThreadStreamEvent = { type: 'thread.item.added', item: userMessage };
    const replaced: ThreadStreamEvent = { type: 'thread.item.replaced', item: userMessage };
    const page: Page<ThreadItem> = { data: [userMessage], has_more: false };
    const thread = toWireThread(ThreadMetadataSchema.parse({ id: 'thr_1', created_at: T }), page);
    const outputs = [done, added, replaced, page, userMessage, { updated_item: userMessage }, thread];
    for (const output of outputs) {
      const json = toWireJson(output);
      expect(json).toContain('"atc_1"');
      expect(json).not.toContain('secret-key');
    }
    expect(wire(done).item.attachments[0]).toEqual({
      id: 'atc_1',
      name: 'a.png',
      mime_type: 'image/png',
      type: 'image',
      preview_url: 'https://files.example/atc_1/p',
      thread_id: 'thr_1',
    });
  });

  it("strips a widget item's server-private metadata wherever the item appears", () => {
    const card = {
      id: 'msg_1',
      thread_id: 'thr_1',
      created_at: T,
      type: 'widget' as const,
      widget: { type: 'Card', children: [{ type: 'Text', value: 'Allow it?', id: 'metadata' }] },
      metadata: { tool_approval: { arguments: { amount: 'secret-amount' } } },
    };
    const page: Page<ThreadItem> = { data: [card], has_more: false };
    const thread = toWireThread(ThreadMetadataSchema.parse({ id: 'thr_1', created_at: T }), page);
    const outputs = [
      { type: 'thread.item.done', item: card },
      { type: 'thread.item.replaced', item: card },
      page,
      card,
      { updated_item: card },
      thread,
    ];
    for (const output of outputs) {
      const json = toWireJson(output);
      expect(json).toContain('Allow it?');
      expect(json).not.toContain('secret-amount');
    }
    expect(wire({ type: 'thread.item.done', item: card }).item).toEqual({
      id: 'msg_1',
      thread_id: 'thr_1',
      created_at: T,
      type: 'widget',
      widget: card.widget,
    });
  });

  it('does not touch opaque payloads that happen to look like attachments', () => {
    const tool = ThreadItemSchema.parse({
      id: 'tc_1',
      thread_id: 'thr_1',
      created_at: T,
      type: 'client_tool_call',
      status: 'completed',
      call_id: 'c',
      name: 'pick_file',
      arguments: {},
      output: { type: 'file', id: 'f', name: 'n', mime_type: 'text/plain', metadata: { mine: true } },
    });
    expect(wire({ type: 'thread.item.done', item: tool }).item.output.metadata).toEqual({ mine: true });
  });

  it('always sends thread metadata as {}', () => {
    const thread = {
      id: 'thr_1',
      created_at: T,
      title: null,
      status: { type: 'active' },
      metadata: { previous_response_id: 'resp_secret' },
      items: { data: [], has_more: false },
    };
    const expected = {
      id: 'thr_1',
      created_at: T,
      status: { type: 'active' },
      metadata: {},
      items: { data: [], has_more: false },
    };
    expect(wire(thread)).toEqual(expected);
    expect(wire({ type: 'thread.created', thread })).toEqual({ type: 'thread.created', thread: expected });
    expect(wire({ type: 'thread.updated', thread })).toEqual({ type: 'thread.updated', thread: expected });
    expect(wire({ data: [thread], has_more: true, after: 'thr_1' })).toEqual({
      data: [expected],
      has_more: true,
      after: 'thr_1',
    });
    const { metadata: _omitted, ...withoutMetadata } = thread;
    expect(wire(withoutMetadata)).toEqual(expected);
  });

  it('keeps thread status reasons and allowed image domains', () => {
    const meta = ThreadMetadataSchema.parse({
      id: 'thr_1',
      created_at: T,
      status: { type: 'locked', reason: 'r' },
      allowed_image_domains: ['img.example'],
    });
    expect(wire(toWireThread(meta))).toMatchObject({
      status: { type: 'locked', reason: 'r' },
      allowed_image_domains: ['img.example'],
      metadata: {},
    });
  });

  it('keeps defaults that are not null', () => {
    const workflow = WorkflowSchema.parse({ type: 'custom', tasks: [{ type: 'custom', title: 't' }] });
    expect(toWireJson(workflow)).toBe(
      '{"type":"custom","tasks":[{"status_indicator":"none","type":"custom","title":"t"}],"expanded":false}',
    );
  });
});

describe('sseFrame', () => {
  it('produces exactly one data line followed by a blank line', () => {
    expect(sseFrame({ type: 'progress_update', text: 'working', icon: 'search' })).toBe(
      'data: {"type":"progress_update","text":"working","icon":"search"}\n\n',
    );
    expect(sseFrame({ type: 'stream_options', stream_options: { allow_cancel: true } })).toBe(
      'data: {"type":"stream_options","stream_options":{"allow_cancel":true}}\n\n',
    );
  });

  it('escapes newlines inside values so a frame never spans lines', () => {
    const frame = sseFrame({ type: 'notice', level: 'info', message: 'line 1\nline 2', title: null });
    expect(frame).toBe('data: {"type":"notice","level":"info","message":"line 1\\nline 2"}\n\n');
    expect(frame.slice(0, -2)).not.toContain('\n');
  });

  it('applies the wire rules to the event it frames', () => {
    const event = ThreadStreamEventSchema.parse({ type: 'thread.item.done', item: userMessage });
    const frame = sseFrame(event);
    expect(frame.startsWith('data: ')).toBe(true);
    expect(frame.endsWith('\n\n')).toBe(true);
    expect(frame).not.toContain('secret-key');
    expect(frame).not.toContain('null');
  });
});

describe('text deltas', () => {
  const delta = (text: string, index = 0): ThreadStreamEvent => ({
    type: 'thread.item.updated',
    item_id: 'msg_"1\\',
    update: { type: 'assistant_message.content_part.text_delta', content_index: index, delta: text },
  });
  const samples = [
    'plain',
    '',
    ' ',
    'say "hi"\\ back',
    'line 1\nline 2\r\n\ttab',
    'ünïcødé — 日本語 🙂 \u{1F600}',
    '\u0000\u0001\u001f\u007f\u2028\u2029',
    '\uD800',
    '\uDFFF lone low',
    '</script><!--',
    '{"json":null}',
  ];

  it.each(samples)('is written directly with the bytes of the full sanitiser: %j', (text) => {
    const event = delta(text, 3);
    const direct = textDeltaJson(event);
    expect(direct).toBeDefined();
    expect(direct).toBe(toWireJson(event));
    expect(sseFrame(event)).toBe(`data: ${toWireJson(event)}\n\n`);
    expect(JSON.parse(direct!)).toEqual(event);
  });

  it('leaves every other event to the full sanitiser', () => {
    expect(textDeltaJson({ type: 'progress_update', text: 'x' })).toBeUndefined();
    expect(
      textDeltaJson({
        type: 'thread.item.updated',
        item_id: 'msg_1',
        update: { type: 'workflow.task.added', task_index: 0, task: { type: 'custom', title: 't' } },
      } as ThreadStreamEvent),
    ).toBeUndefined();
  });
});

describe('toWireThread', () => {
  const hidden: ThreadItem = {
    id: 'h_1',
    thread_id: 'thr_1',
    created_at: T,
    type: 'hidden_context_item',
    content: 'the user clicked buy',
  };
  const marker: ThreadItem = {
    id: 'shcx_1',
    thread_id: 'thr_1',
    created_at: T,
    type: 'sdk_hidden_context',
    content: 'cancelled',
  };

  it('rebuilds the thread from metadata only, with an empty items page by default', () => {
    const stored = {
      ...ThreadMetadataSchema.parse({ id: 'thr_1', created_at: T, title: 'T', metadata: { secret: 1 } }),
      items: { data: [userMessage], has_more: false },
      owner_id: 'user_9',
    };
    const thread = toWireThread(stored);
    expect(thread.metadata).toEqual({});
    expect(thread.items).toEqual({ data: [], has_more: false });
    expect(thread).not.toHaveProperty('owner_id');
    expect(wire(thread)).toEqual({
      id: 'thr_1',
      created_at: T,
      title: 'T',
      status: { type: 'active' },
      metadata: {},
      items: { data: [], has_more: false },
    });
  });

  it('removes hidden items but passes has_more and after through', () => {
    const meta = ThreadMetadataSchema.parse({ id: 'thr_1', created_at: T });
    const thread = toWireThread(meta, {
      data: [userMessage, hidden, marker],
      has_more: true,
      after: 'shcx_1',
    });
    expect(thread.items.data.map((i) => i.id)).toEqual(['msg_1']);
    expect(thread.items.has_more).toBe(true);
    expect(thread.items.after).toBe('shcx_1');
  });
});

describe('formatZodError', () => {
  const message = (schema: z.ZodType, value: unknown) => {
    const result = schema.safeParse(value);
    if (result.success) throw new Error('expected a failure');
    return formatZodError(result.error, value);
  };

  it('names the content part discriminator with its allowed values', () => {
    const body = {
      type: 'threads.create',
      params: { input: { content: [{ type: 'input_image' }], attachments: [], inference_options: {} } },
    };
    expect(message(ChatKitRequestSchema, body)).toBe(
      'params.input.content[0].type: expected one of input_text, input_tag',
    );
  });

  it('calls the root "body" and says what it received', () => {
    expect(message(ChatKitRequestSchema, [])).toBe('body: expected object, received array');
  });

  it('reports missing fields as required', () => {
    expect(message(ChatKitRequestSchema, { type: 'threads.get_by_id', params: {} })).toBe(
      'params.thread_id: required',
    );
  });

  it('says integer and object rather than zod type names', () => {
    expect(message(ChatKitRequestSchema, { type: 'threads.list', params: { limit: 1.5 } })).toBe(
      'params.limit: expected integer, received number',
    );
    expect(message(ChatKitRequestSchema, { type: 'threads.list', params: {}, metadata: 'x' })).toBe(
      'metadata: expected object, received string',
    );
  });

  it('lists several failures and caps the list', () => {
    const body = {
      type: 'attachments.create',
      params: { name: 1, size: -1, mime_type: 2, extra: 'ignored' },
    };
    expect(message(ChatKitRequestSchema, body)).toBe(
      'params.name: expected string, received number; params.size: must be >= 0; params.mime_type: expected string, received number',
    );
    const many = z.object({ a: z.string(), b: z.string(), c: z.string(), d: z.string(), e: z.string() });
    expect(message(many, {})).toBe('a: required; b: required; c: required (and 2 more)');
  });

  it("does not repeat keys that are not plain identifiers (they are the client's text)", () => {
    const body = {
      type: 'threads.add_structured_input',
      params: { thread_id: 't', item_id: 'i', input: { answers: { 'q 1': { skipped: 'no' } } } },
    };
    expect(message(ChatKitRequestSchema, body)).toBe(
      'params.input.answers[…].skipped: expected boolean, received string',
    );
  });

  it('explains undiscriminated union failures', () => {
    expect(message(WorkflowSchema, { type: 'custom', tasks: [], summary: {} })).toBe(
      'summary: does not match any allowed shape',
    );
  });
});

/**
 * Conformance of POST /chatkit with the reference protocol (fact sheet §2, §4.4, §5, §10), over
 * real HTTP against PostgreSQL, with a scripted responder standing in for the model.
 */
import { RESPONDER } from 'src/chatkit/chatkit.ports';
import { ChatKitActions } from 'src/chatkit/chatkit.actions';
import { CANCELLED_MARKER } from 'src/chatkit/stream.pipeline';
import { chatkit, chatkitUntil, userInput } from 'test/support/chatkit-client';
import { aborted, assistantReply, ScriptedResponder } from 'test/support/scripted-responder';
import { startApp, uniqueUser, type TestApp } from 'test/support/test-app';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('ChatKit protocol conformance', () => {
  let app: TestApp;
  const responder = new ScriptedResponder();

  beforeAll(async () => {
    app = await startApp({ CHATKIT_HEARTBEAT_MS: '0' }, (b) =>
      b.overrideProvider(RESPONDER).useValue(responder),
    );
    const actions = app.app.get(ChatKitActions);
    actions.register({
      type: 'like',
      async *action(thread, action, sender, ctx) {
        await ctx.saveItem({
          type: 'hidden_context_item',
          id: ctx.generateId('message'),
          thread_id: thread.id,
          created_at: ctx.now(),
          content: `liked ${String((action.payload as { what?: string })?.what)}`,
        });
        yield {
          type: 'thread.item.replaced',
          item: {
            ...sender!,
            widget: { type: 'Card', children: [{ type: 'Text', id: 't', value: 'liked' }] },
          },
        };
        yield { type: 'client_effect', name: 'confetti', data: {} };
      },
      async sync(thread, action, sender) {
        return {
          updated_item: {
            ...sender!,
            widget: { type: 'Card', children: [{ type: 'Text', id: 't', value: 'synced' }] },
          },
        };
      },
    });
  });
  afterAll(() => app.close());
  beforeEach(() => {
    responder.script = (thread, input, ctx) => assistantReply(thread, ctx, 'Hi', { chunks: ['H', 'i'] });
  });

  async function createThread(user: string, text = 'Hello') {
    const res = await chatkit(app, user, { type: 'threads.create', params: { input: userInput(text) } });
    expect(res.status).toBe(200);
    return { res, threadId: res.events[0].thread.id as string };
  }

  it('threads.create streams the canonical sequence with exact shapes and headers', async () => {
    responder.script = async function* (thread, input, ctx) {
      yield* assistantReply(thread, ctx, 'Hi', { chunks: ['H', 'i'] });
      await ctx.saveItem({
        type: 'hidden_context_item',
        id: ctx.generateId('message'),
        thread_id: thread.id,
        created_at: ctx.now(),
        content: 'secret',
      });
      ctx.updateThread({ title: 'New title' });
    };
    const user = uniqueUser();
    const body = {
      type: 'threads.create',
      params: {
        input: {
          content: [
            { type: 'input_text', text: 'Hello ' },
            { type: 'input_tag', id: 'e1', text: 'Ent', data: { k: 1 } },
          ],
          attachments: [],
          inference_options: { model: 'gpt', tool_choice: { id: 'web' } },
          quoted_text: 'q',
        },
      },
      metadata: { foo: 'bar' },
    };
    const res = await chatkit(app, user, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toContain('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    // Every frame is exactly `data: <compact json>\n\n`.
    expect(res.raw).toMatch(/^(data: \{[^\n]*\}\n\n)+$/);
    expect(res.events.map((e) => e.type + (e.update ? `:${e.update.type}` : ''))).toEqual([
      'thread.created',
      'thread.item.done',
      'stream_options',
      'thread.item.added',
      'thread.item.updated:assistant_message.content_part.added',
      'thread.item.updated:assistant_message.content_part.text_delta',
      'thread.item.updated:assistant_message.content_part.text_delta',
      'thread.item.updated:assistant_message.content_part.done',
      'thread.item.done',
      'thread.updated',
    ]);
    const [created, userDone, options, added, , , , , assistantDone, updated] = res.events;
    const threadId = created.thread.id;
    expect(threadId).toMatch(/^thr_[0-9a-f]{28}$/);
    expect(created.thread).toEqual({
      id: threadId,
      created_at: expect.stringMatching(ISO_UTC),
      status: { type: 'active' },
      metadata: {},
      items: { data: [], has_more: false },
    });
    expect(userDone.item).toEqual({
      id: expect.stringMatching(/^msg_[0-9a-f]{28}$/),
      thread_id: threadId,
      created_at: expect.stringMatching(ISO_UTC),
      type: 'user_message',
      content: [
        { type: 'input_text', text: 'Hello ' },
        { type: 'input_tag', id: 'e1', text: 'Ent', data: { k: 1 }, interactive: false },
      ],
      attachments: [],
      quoted_text: 'q',
      inference_options: { tool_choice: { id: 'web' }, model: 'gpt' },
    });
    expect(options).toEqual({ type: 'stream_options', stream_options: { allow_cancel: true } });
    expect(added.item).toMatchObject({ type: 'assistant_message', content: [], thread_id: threadId });
    expect(assistantDone.item.content).toEqual([{ type: 'output_text', text: 'Hi', annotations: [] }]);
    expect(updated).toEqual({
      type: 'thread.updated',
      thread: {
        id: threadId,
        title: 'New title',
        created_at: created.thread.created_at,
        status: { type: 'active' },
        metadata: {},
        items: { data: [], has_more: false },
      },
    });
    expect(responder.calls.at(-1)!.metadata).toEqual({ foo: 'bar' });

    // Stored: user message + assistant message; the hidden item is stored but never listed.
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(items.json.data.map((i: any) => i.type)).toEqual(['user_message', 'assistant_message']);
    expect(items.json.data[1]).toEqual(assistantDone.item);
    const thread = await chatkit(app, user, { type: 'threads.get_by_id', params: { thread_id: threadId } });
    expect(thread.json).toMatchObject({
      id: threadId,
      title: 'New title',
      metadata: {},
      items: { data: [userDone.item, assistantDone.item], has_more: false },
    });
  });

  it('threads.add_user_message streams the same turn without thread.created', async () => {
    const user = uniqueUser();
    const { threadId } = await createThread(user);
    const res = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('again') },
    });
    expect(res.events.map((e) => e.type)).toEqual([
      'thread.item.done',
      'stream_options',
      'thread.item.added',
      'thread.item.updated',
      'thread.item.updated',
      'thread.item.updated',
      'thread.item.updated',
      'thread.item.done',
    ]);
    expect(res.events[0].item.content).toEqual([{ type: 'input_text', text: 'again' }]);
  });

  it('threads.list pages 25 threads as 20 + 5 with has_more/after, newest first', async () => {
    const user = uniqueUser();
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await createThread(user, `t${i}`)).threadId);
    const first = await chatkit(app, user, { type: 'threads.list', params: {} });
    expect(first.json.data).toHaveLength(20);
    expect(first.json.has_more).toBe(true);
    expect(first.json.after).toBe(first.json.data[19].id);
    expect(first.json.data[0]).toEqual({
      id: ids[24],
      created_at: expect.stringMatching(ISO_UTC),
      status: { type: 'active' },
      metadata: {},
      items: { data: [], has_more: false },
    });
    const second = await chatkit(app, user, { type: 'threads.list', params: { after: first.json.after } });
    expect(second.json.data).toHaveLength(5);
    expect(second.json).not.toHaveProperty('after');
    expect(second.json.has_more).toBe(false);
    expect([...first.json.data, ...second.json.data].map((t: any) => t.id)).toEqual([...ids].reverse());
    const asc = await chatkit(app, user, { type: 'threads.list', params: { order: 'asc', limit: 0 } });
    expect(asc.json.data.map((t: any) => t.id)).toEqual(ids.slice(0, 20));
  });

  it('items.list pages 26 items, hidden ones filtered in SQL so pages are full', async () => {
    const user = uniqueUser();
    responder.script = async function* (thread, input, ctx) {
      for (let i = 0; i < 12; i++) {
        yield {
          type: 'thread.item.done',
          item: {
            type: 'hidden_context_item',
            id: ctx.generateId('message'),
            thread_id: thread.id,
            created_at: ctx.now(),
            content: `h${i}`,
          },
        };
        yield {
          type: 'thread.item.done',
          item: {
            type: 'end_of_turn',
            id: ctx.generateId('message'),
            thread_id: thread.id,
            created_at: ctx.now(),
          },
        };
        yield {
          type: 'thread.item.done',
          item: {
            type: 'assistant_message',
            id: ctx.generateId('message'),
            thread_id: thread.id,
            created_at: ctx.now(),
            content: [{ type: 'output_text', text: `a${i}`, annotations: [] }],
          },
        };
      }
      yield {
        type: 'thread.item.done',
        item: {
          type: 'end_of_turn',
          id: ctx.generateId('message'),
          thread_id: thread.id,
          created_at: ctx.now(),
        },
      };
    };
    const { res, threadId } = await createThread(user);
    // Hidden items are never streamed.
    expect(res.events.filter((e) => e.item?.type === 'hidden_context_item')).toEqual([]);
    const page1 = await chatkit(app, user, { type: 'items.list', params: { thread_id: threadId } });
    expect(page1.json.data).toHaveLength(20);
    expect(page1.json.has_more).toBe(true);
    expect(page1.json.data.some((i: any) => i.type === 'hidden_context_item')).toBe(false);
    const page2 = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, after: page1.json.after },
    });
    expect(page2.json.data).toHaveLength(6);
    expect(page2.json.has_more).toBe(false);
    const all = [...page1.json.data, ...page2.json.data];
    expect(new Set(all.map((i: any) => i.id)).size).toBe(26);
    expect(all.at(-1).type).toBe('user_message');
    // get_by_id: the oldest 20 visible items, ascending.
    const thread = await chatkit(app, user, { type: 'threads.get_by_id', params: { thread_id: threadId } });
    expect(thread.json.items.data.map((i: any) => i.id)).toEqual(
      all
        .slice()
        .reverse()
        .slice(0, 20)
        .map((i: any) => i.id),
    );
    expect(thread.json.items.has_more).toBe(true);
  });

  it('threads.update renames without an event; threads.delete removes the thread and its items', async () => {
    const user = uniqueUser();
    const { threadId } = await createThread(user);
    const renamed = await chatkit(app, user, {
      type: 'threads.update',
      params: { thread_id: threadId, title: 'Renamed' },
    });
    expect(renamed.json).toEqual({
      id: threadId,
      title: 'Renamed',
      created_at: expect.any(String),
      status: { type: 'active' },
      metadata: {},
      items: { data: [], has_more: false },
    });
    const deleted = await chatkit(app, user, { type: 'threads.delete', params: { thread_id: threadId } });
    expect(deleted.status).toBe(200);
    expect(deleted.raw).toBe('{}');
    expect(
      (await chatkit(app, user, { type: 'threads.get_by_id', params: { thread_id: threadId } })).status,
    ).toBe(404);
    expect((await chatkit(app, user, { type: 'items.list', params: { thread_id: threadId } })).status).toBe(
      404,
    );
  });

  it('items.feedback stores one verdict per user and item, updated on re-vote', async () => {
    const user = uniqueUser();
    const { res, threadId } = await createThread(user);
    const assistantId = res.events.at(-1).item.id;
    const first = await chatkit(app, user, {
      type: 'items.feedback',
      params: { thread_id: threadId, item_ids: [assistantId, assistantId], kind: 'positive' },
    });
    expect(first.raw).toBe('{}');
    await chatkit(app, user, {
      type: 'items.feedback',
      params: { thread_id: threadId, item_ids: [assistantId], kind: 'negative' },
    });
    const { DataSource } = await import('typeorm');
    const rows = await app.app
      .get(DataSource)
      .query('SELECT kind FROM feedback WHERE thread_id = $1', [threadId]);
    expect(rows).toEqual([{ kind: 'negative' }]);
    const unknown = await chatkit(app, user, {
      type: 'items.feedback',
      params: { thread_id: threadId, item_ids: ['msg_nope'], kind: 'positive' },
    });
    expect(unknown.status).toBe(404);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/chatkit_feedback_total\{kind="negative"\} [1-9]/);
  });

  it('counts refused bodies as invalid by the type they claim; an unknown or non-string type as unknown', async () => {
    const user = uniqueUser();
    const bad = [
      { type: 'threads.get_by_id', params: {} },
      { type: 'threads.no_such_request', params: {} },
      { type: { toString: {} }, params: {} },
    ];
    for (const body of bad) {
      const res = await chatkit(app, user, body);
      expect(res.status).toBe(400);
      expect(res.json.code).toBe('validation_failed');
    }
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const invalid = (type: string) =>
      new RegExp(`chatkit_requests_total\\{(?=[^}]*type="${type}")(?=[^}]*outcome="invalid")[^}]*\\} [1-9]`);
    expect(metrics).toMatch(invalid('threads.get_by_id'));
    expect(metrics).toMatch(invalid('unknown'));
    expect(metrics).not.toMatch(/type="threads.no_such_request"/);
  });

  it('client tool round trip: pending call ends the turn, the output resumes it', async () => {
    const user = uniqueUser();
    responder.script = async function* (thread, input, ctx) {
      yield {
        type: 'thread.item.done',
        item: {
          type: 'client_tool_call',
          id: 'tc_1',
          thread_id: thread.id,
          created_at: ctx.now(),
          status: 'pending',
          call_id: 'call_1',
          name: 'get_sel',
          arguments: { a: 1 },
        },
      };
    };
    const { res, threadId } = await createThread(user);
    expect(res.events.map((e) => e.type)).toEqual([
      'thread.created',
      'thread.item.done',
      'stream_options',
      'thread.item.done',
    ]);
    expect(res.events[3].item).toEqual({
      type: 'client_tool_call',
      id: 'tc_1',
      thread_id: threadId,
      created_at: expect.any(String),
      status: 'pending',
      call_id: 'call_1',
      name: 'get_sel',
      arguments: { a: 1 },
    });

    responder.script = (thread, input, ctx) => assistantReply(thread, ctx, 'done');
    const out = await chatkit(app, user, {
      type: 'threads.add_client_tool_output',
      params: { thread_id: threadId, result: { ok: true } },
    });
    expect(
      out.events
        .filter((e) => e.type !== 'thread.item.updated' && e.type !== 'thread.item.added')
        .map((e) => e.type),
    ).toEqual(['stream_options', 'thread.item.done']);
    expect(responder.calls.at(-1)!.input).toBeNull();
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(items.json.data[1]).toMatchObject({ id: 'tc_1', status: 'completed', output: { ok: true } });

    // No pending call any more: refused before any SSE byte.
    const again = await chatkit(app, user, {
      type: 'threads.add_client_tool_output',
      params: { thread_id: threadId, result: {} },
    });
    expect(again.status).toBe(400);
    expect(again.headers.get('content-type')).toContain('application/json');
    expect(again.json.message).toMatch(/no pending client tool call/);
  });

  it('retry_after_item silently deletes later items and answers the same user message again', async () => {
    const user = uniqueUser();
    const { res, threadId } = await createThread(user, 'first');
    const firstUserId = res.events[1].item.id;
    await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('second') },
    });
    responder.script = (thread, input, ctx) => assistantReply(thread, ctx, 'retried');
    const retry = await chatkit(app, user, {
      type: 'threads.retry_after_item',
      params: { thread_id: threadId, item_id: firstUserId },
    });
    expect(retry.events.map((e) => e.type)).toEqual([
      'stream_options',
      'thread.item.added',
      'thread.item.updated',
      'thread.item.updated',
      'thread.item.updated',
      'thread.item.done',
    ]);
    expect(responder.calls.at(-1)!.input!.id).toBe(firstUserId);
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(
      items.json.data.map((i: any) => (i.type === 'user_message' ? i.content[0].text : i.content[0].text)),
    ).toEqual(['first', 'retried']);

    const assistantId = items.json.data[1].id;
    const notUser = await chatkit(app, user, {
      type: 'threads.retry_after_item',
      params: { thread_id: threadId, item_id: assistantId },
    });
    expect(notUser.status).toBe(400);
    const unknown = await chatkit(app, user, {
      type: 'threads.retry_after_item',
      params: { thread_id: threadId, item_id: 'msg_missing' },
    });
    expect(unknown.status).toBe(404);
  });

  it('structured input: answers applied as the reference does, item replaced, then respond', async () => {
    const user = uniqueUser();
    responder.script = async function* (thread, input, ctx) {
      yield {
        type: 'thread.item.done',
        item: {
          type: 'structured_input',
          id: 'si_1',
          thread_id: thread.id,
          created_at: ctx.now(),
          status: 'pending',
          inputs: [
            {
              id: 'q1',
              question: 'Pick',
              type: 'multiple_choice',
              options: [{ value: 'A' }, { value: 'B' }],
              multiple: false,
            },
            { id: 'q2', question: 'Notes', type: 'freeform', description: 'd' },
          ],
        },
      };
    };
    const { threadId } = await createThread(user);
    responder.script = (thread, input, ctx) => assistantReply(thread, ctx, 'thanks');
    const res = await chatkit(app, user, {
      type: 'threads.add_structured_input',
      params: {
        thread_id: threadId,
        item_id: 'si_1',
        input: { answers: { q1: { values: ['A', 'B'] }, zz: { values: ['x'] } } },
      },
    });
    expect(res.events[0]).toEqual({ type: 'stream_options', stream_options: { allow_cancel: true } });
    expect(res.events[1].type).toBe('thread.item.replaced');
    expect(res.events[1].item).toMatchObject({
      status: 'answered',
      inputs: [
        { id: 'q1', answer: { values: ['A'], skipped: false } },
        { id: 'q2', answer: { values: [], skipped: true } },
      ],
    });
    expect(res.events.at(-1).type).toBe('thread.item.done');
    const stored = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(stored.json.data[1]).toEqual(res.events[1].item);
    const again = await chatkit(app, user, {
      type: 'threads.add_structured_input',
      params: { thread_id: threadId, item_id: 'si_1', input: { answers: {} } },
    });
    expect(again.status).toBe(409);
    expect(again.json.message).toMatch(/already answered/);
  });

  it('custom and sync actions go to the registered handler; replaced widgets persist; unknown actions are 400', async () => {
    const user = uniqueUser();
    responder.script = async function* (thread, input, ctx) {
      yield {
        type: 'thread.item.done',
        item: {
          type: 'widget',
          id: 'w_1',
          thread_id: thread.id,
          created_at: ctx.now(),
          widget: { type: 'Card', children: [{ type: 'Text', id: 't', value: 'w' }] },
          copy_text: 'copy',
        },
      };
    };
    const { res, threadId } = await createThread(user);
    const userMsgId = res.events[1].item.id;
    const action = await chatkit(app, user, {
      type: 'threads.custom_action',
      params: { thread_id: threadId, item_id: 'w_1', action: { type: 'like', payload: { what: 'cats' } } },
    });
    expect(action.events.map((e) => e.type)).toEqual([
      'stream_options',
      'thread.item.replaced',
      'client_effect',
    ]);
    expect(action.events[2]).toEqual({ type: 'client_effect', name: 'confetti', data: {} });
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(items.json.data.map((i: any) => i.type)).toEqual(['user_message', 'widget']);
    expect(items.json.data[1].widget.children[0].value).toBe('liked');

    const sync = await chatkit(app, user, {
      type: 'threads.sync_custom_action',
      params: { thread_id: threadId, item_id: 'w_1', action: { type: 'like' } },
    });
    expect(sync.status).toBe(200);
    expect(sync.json).toEqual({
      updated_item: {
        ...items.json.data[1],
        widget: { type: 'Card', children: [{ type: 'Text', id: 't', value: 'synced' }] },
      },
    });

    const unknown = await chatkit(app, user, {
      type: 'threads.custom_action',
      params: { thread_id: threadId, action: { type: 'nope' } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toMatch(/no handler for action "nope"/);
    const notWidget = await chatkit(app, user, {
      type: 'threads.custom_action',
      params: { thread_id: threadId, item_id: userMsgId, action: { type: 'like' } },
    });
    expect(notWidget.status).toBe(400);
  });

  it('an error inside the responder becomes an error event after the partial output; the thread stays usable', async () => {
    const user = uniqueUser();
    responder.script = async function* (_thread, _input, ctx) {
      yield { type: 'progress_update', text: 'working', icon: 'search' };
      ctx.updateThread({ title: 'Partly' });
      throw new Error('model exploded');
    };
    const { res, threadId } = await createThread(user);
    // As the reference (§4.4 G): the error, then the thread change made before the failure.
    expect(res.events.map((e) => e.type)).toEqual([
      'thread.created',
      'thread.item.done',
      'stream_options',
      'progress_update',
      'error',
      'thread.updated',
    ]);
    expect(res.events[3]).toEqual({ type: 'progress_update', text: 'working', icon: 'search' });
    expect(res.events[4]).toEqual({ type: 'error', code: 'stream.error', allow_retry: true });
    expect(res.events[5].thread.title).toBe('Partly');
    // The user's message was kept, and the lock released: the retry works.
    const items = await chatkit(app, user, { type: 'items.list', params: { thread_id: threadId } });
    expect(items.json.data.map((i: any) => i.type)).toEqual(['user_message']);
    responder.script = (thread, input, ctx) => assistantReply(thread, ctx, 'better');
    const retry = await chatkit(app, user, {
      type: 'threads.retry_after_item',
      params: { thread_id: threadId, item_id: items.json.data[0].id },
    });
    expect(retry.status).toBe(200);
    expect(retry.events.at(-1).item.content[0].text).toBe('better');
  });

  it('a failure after some text keeps the partial answer, without the cancel marker', async () => {
    const user = uniqueUser();
    responder.script = async function* (thread, input, ctx) {
      yield {
        type: 'thread.item.added',
        item: {
          type: 'assistant_message',
          id: 'msg_partial',
          thread_id: thread.id,
          created_at: ctx.now(),
          content: [],
        },
      };
      yield {
        type: 'thread.item.updated',
        item_id: 'msg_partial',
        update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta: 'half way' },
      };
      throw new Error('connection reset by the model');
    };
    const { res, threadId } = await createThread(user);
    expect(res.events.at(-1)).toEqual({ type: 'error', code: 'stream.error', allow_retry: true });
    expect((await rawItems(app, threadId)).map((r) => r.type)).toEqual(['user_message', 'assistant_message']);
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(items.json.data[1]).toMatchObject({
      id: 'msg_partial',
      content: [{ type: 'output_text', text: 'half way', annotations: [] }],
    });
  });

  it('stop: a disconnect aborts the responder, keeps the partial text and adds the cancel marker', async () => {
    const user = uniqueUser();
    let sawAbort = false;
    responder.script = async function* (thread, input, ctx, signal) {
      const id = 'msg_pending';
      yield {
        type: 'thread.item.added',
        item: {
          type: 'assistant_message',
          id,
          thread_id: thread.id,
          created_at: ctx.now(),
          content: [{ type: 'output_text', text: 'partial ', annotations: [] }],
        },
      };
      yield {
        type: 'thread.item.updated',
        item_id: id,
        update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta: 'text' },
      };
      await aborted(signal);
      sawAbort = true;
    };
    const events = await chatkitUntil(
      app,
      user,
      { type: 'threads.create', params: { input: userInput('long question') } },
      (ev) => ev.some((e) => e.update?.delta === 'text'),
    );
    const threadId = events[0].thread.id;
    await waitFor(
      async () =>
        (await chatkit(app, user, { type: 'items.list', params: { thread_id: threadId } })).json.data
          .length === 2,
    );
    expect(sawAbort).toBe(true);
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(items.json.data.map((i: any) => i.type)).toEqual(['user_message', 'assistant_message']);
    expect(items.json.data[1]).toMatchObject({ id: 'msg_pending', content: [{ text: 'partial text' }] });
    const rows = await rawItems(app, threadId);
    expect(rows.at(-1)).toEqual({ type: 'sdk_hidden_context', content: CANCELLED_MARKER });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/chatkit_stream_cancellations_total\{type="threads.create"\} [1-9]/);
  });

  it('stop before any text stores no empty assistant message, only the marker', async () => {
    const user = uniqueUser();
    responder.script = async function* (thread, input, ctx, signal) {
      yield {
        type: 'thread.item.added',
        item: {
          type: 'assistant_message',
          id: 'msg_empty',
          thread_id: thread.id,
          created_at: ctx.now(),
          content: [],
        },
      };
      yield { type: 'progress_update', text: 'thinking' };
      await aborted(signal);
    };
    const events = await chatkitUntil(
      app,
      user,
      { type: 'threads.create', params: { input: userInput('q') } },
      (ev) => ev.some((e) => e.type === 'progress_update'),
    );
    const threadId = events[0].thread.id;
    await waitFor(async () => (await rawItems(app, threadId)).length === 2);
    expect((await rawItems(app, threadId)).map((r) => r.type)).toEqual([
      'user_message',
      'sdk_hidden_context',
    ]);
  });

  it('one run per thread: a second stream is refused with 409 thread_busy, and the lock is released after a disconnect', async () => {
    const user = uniqueUser();
    const { threadId } = await createThread(user);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    responder.script = async function* (thread, input, ctx, signal) {
      yield { type: 'progress_update', text: 'busy' };
      await Promise.race([gate, aborted(signal)]);
    };
    const controller = new AbortController();
    const first = app.fetch('/chatkit', {
      method: 'POST',
      user,
      json: { type: 'threads.add_user_message', params: { thread_id: threadId, input: userInput('one') } },
      signal: controller.signal,
    });
    const firstRes = await first;
    const reader = firstRes.body!.getReader();
    await reader.read();
    const second = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('two') },
    });
    expect(second.status).toBe(409);
    expect(second.json).toMatchObject({ statusCode: 409, code: 'thread_busy' });
    // The refused message changed nothing.
    const rows = await rawItems(app, threadId);
    expect(rows.filter((r) => r.type === 'user_message')).toHaveLength(2);
    controller.abort();
    release();
    responder.script = (thread, input, ctx) => assistantReply(thread, ctx, 'free again');
    await waitFor(
      async () =>
        (
          await chatkit(app, user, {
            type: 'threads.add_user_message',
            params: { thread_id: threadId, input: userInput('three') },
          })
        ).status === 200,
    );
  });
});

// Its own app, started after the suite above closed its one: the embedded database has one connection.
describe('SSE heartbeat', () => {
  it('writes an SSE comment heartbeat on idle streams', async () => {
    const hb = await startApp({ CHATKIT_HEARTBEAT_MS: '50' }, (b) =>
      b.overrideProvider(RESPONDER).useValue({
        async *respond(thread: any, input: any, ctx: any) {
          await new Promise((r) => setTimeout(r, 200));
          yield* assistantReply(thread, ctx, 'late');
        },
      }),
    );
    try {
      const res = await chatkit(hb, uniqueUser(), {
        type: 'threads.create',
        params: { input: userInput('x') },
      });
      // One every 50 ms of silence, re-armed after each: several in 200 ms.
      expect(res.raw.split(': keep-alive\n\n').length - 1).toBeGreaterThanOrEqual(2);
      expect(res.events.at(-1).item.content[0].text).toBe('late');
    } finally {
      await hb.close();
    }
  });
});

async function rawItems(app: TestApp, threadId: string): Promise<Array<{ type: string; content?: unknown }>> {
  const { DataSource } = await import('typeorm');
  const ds = app.app.get(DataSource);
  const rows: Array<{ type: string; payload: { content?: unknown } }> = await ds.query(
    `SELECT type, payload FROM thread_items WHERE thread_id = $1 ORDER BY created_at, id`,
    [threadId],
  );
  return rows.map((r) =>
    r.type === 'sdk_hidden_context' ? { type: r.type, content: r.payload.content } : { type: r.type },
  );
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

describe('graceful shutdown during a stream', () => {
  it('cuts the stream after the grace period and stores the partial answer before the database closes', async () => {
    const app = await startApp({ CHATKIT_HEARTBEAT_MS: '0', SHUTDOWN_GRACE_MS: '200' }, (b) =>
      b.overrideProvider(RESPONDER).useValue({
        async *respond(thread: any, input: any, ctx: any, signal: AbortSignal) {
          const base = {
            type: 'assistant_message',
            id: 'msg_shutdown',
            thread_id: thread.id,
            created_at: ctx.now(),
          };
          yield {
            type: 'thread.item.added',
            item: { ...base, content: [{ type: 'output_text', text: 'half an ', annotations: [] }] },
          };
          yield {
            type: 'thread.item.updated',
            item_id: 'msg_shutdown',
            update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta: 'answer' },
          };
          await aborted(signal);
        },
      }),
    );
    const user = uniqueUser();
    const res = await app.fetch('/chatkit', {
      method: 'POST',
      user,
      json: { type: 'threads.create', params: { input: userInput('q') } },
    });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('"delta":"answer"')) text += new TextDecoder().decode((await reader.read()).value);
    const threadId = JSON.parse(text.split('\n\n')[0].slice(6)).thread.id;
    await app.close();
    await reader.cancel().catch(() => undefined);

    const { Client } = await import('pg');
    // The embedded server takes one connection; the closed app's may take a moment to go away.
    let db = new Client({ connectionString: process.env.DATABASE_URL });
    for (let attempt = 0; ; attempt++) {
      try {
        await db.connect();
        break;
      } catch (err) {
        if (attempt > 30) throw err;
        await new Promise((r) => setTimeout(r, 100));
        db = new Client({ connectionString: process.env.DATABASE_URL });
      }
    }
    try {
      const rows = await db.query(
        `SELECT type, payload FROM thread_items WHERE thread_id = $1 ORDER BY created_at, id`,
        [threadId],
      );
      expect(rows.rows.map((r) => r.type)).toEqual([
        'user_message',
        'assistant_message',
        'sdk_hidden_context',
      ]);
      expect(rows.rows[1].payload.content[0].text).toBe('half an answer');
    } finally {
      await db.end();
    }
  });
});

describe('a responder that goes silent', () => {
  it('is aborted after CHATKIT_RESPONDER_IDLE_TIMEOUT_S, with an error event, the partial answer kept and the thread free', async () => {
    let sawAbort = false;
    const silent = new ScriptedResponder();
    const app = await startApp({ CHATKIT_HEARTBEAT_MS: '0', CHATKIT_RESPONDER_IDLE_TIMEOUT_S: '1' }, (b) =>
      b.overrideProvider(RESPONDER).useValue(silent),
    );
    try {
      silent.script = async function* (thread, input, ctx, signal) {
        yield {
          type: 'thread.item.added',
          item: {
            type: 'assistant_message',
            id: 'msg_silent',
            thread_id: thread.id,
            created_at: ctx.now(),
            content: [],
          },
        };
        yield {
          type: 'thread.item.updated',
          item_id: 'msg_silent',
          update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta: 'so far' },
        };
        await aborted(signal);
        sawAbort = true;
      };
      const user = uniqueUser();
      const started = Date.now();
      const res = await chatkit(app, user, { type: 'threads.create', params: { input: userInput('q') } });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(res.events.at(-1)).toEqual({ type: 'error', code: 'stream.error', allow_retry: true });
      expect(sawAbort).toBe(true);
      const threadId = res.events[0].thread.id;
      const items = await chatkit(app, user, {
        type: 'items.list',
        params: { thread_id: threadId, order: 'asc' },
      });
      expect(items.json.data[1]).toMatchObject({ id: 'msg_silent', content: [{ text: 'so far' }] });
      silent.script = (thread, input, ctx) => assistantReply(thread, ctx, 'back');
      const next = await chatkit(app, user, {
        type: 'threads.add_user_message',
        params: { thread_id: threadId, input: userInput('again') },
      });
      expect(next.status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

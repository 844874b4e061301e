/**
 * Text PostgreSQL cannot store (NUL characters, unpaired UTF-16 surrogates) and over-long free
 * text are refused with `400 validation_failed` naming the field, on every route, before anything
 * is stored; over real HTTP against the real app and database.
 */
import { INPUT_LIMITS } from 'src/common/input-limits';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

const NUL = 'a\u0000b';
const HIGH = 'a\ud800b';
const LOW = 'a\udc00b';

interface Case {
  name: string;
  body: (threadId: string) => unknown;
  field: string;
}

const text = (t: string) => ({ type: 'input_text', text: t });

/** POST /chatkit bodies, each with one hostile string; `field` is the path the 400 must name. */
const CHATKIT_CASES: Case[] = [
  {
    name: 'NUL in message text',
    body: () => ({ type: 'threads.create', params: { input: { content: [text(NUL)] } } }),
    field: 'params.input.content[0].text',
  },
  {
    name: 'lone high surrogate in message text',
    body: () => ({ type: 'threads.create', params: { input: { content: [text(HIGH)] } } }),
    field: 'params.input.content[0].text',
  },
  {
    name: 'lone low surrogate in message text',
    body: () => ({ type: 'threads.create', params: { input: { content: [text('ok'), text(LOW)] } } }),
    field: 'params.input.content[1].text',
  },
  {
    name: 'NUL in quoted_text',
    body: (t) => ({
      type: 'threads.add_user_message',
      params: { thread_id: t, input: userInput('hi', { quoted_text: NUL }) },
    }),
    field: 'params.input.quoted_text',
  },
  {
    name: 'surrogate in an input_tag id',
    body: () => ({
      type: 'threads.create',
      params: { input: { content: [{ type: 'input_tag', id: HIGH, text: 'x', data: {} }] } },
    }),
    field: 'params.input.content[0].id',
  },
  {
    name: 'NUL in an input_tag data value',
    body: () => ({
      type: 'threads.create',
      params: { input: { content: [{ type: 'input_tag', id: 'e1', text: 'x', data: { k: NUL } }] } },
    }),
    field: 'params.input.content[0].data.k',
  },
  {
    name: 'NUL in inference_options.model',
    body: () => ({
      type: 'threads.create',
      params: { input: userInput('hi', { inference_options: { model: NUL } }) },
    }),
    field: 'params.input.inference_options.model',
  },
  {
    name: 'NUL in an attachment id of a message',
    body: () => ({ type: 'threads.create', params: { input: userInput('hi', { attachments: [NUL] }) } }),
    field: 'params.input.attachments[0]',
  },
  {
    name: 'NUL in a thread title',
    body: (t) => ({ type: 'threads.update', params: { thread_id: t, title: NUL } }),
    field: 'params.title',
  },
  {
    name: 'lone surrogate in a thread title',
    body: (t) => ({ type: 'threads.update', params: { thread_id: t, title: LOW } }),
    field: 'params.title',
  },
  {
    name: 'NUL in thread_id',
    body: () => ({ type: 'threads.get_by_id', params: { thread_id: NUL } }),
    field: 'params.thread_id',
  },
  {
    name: 'surrogate in thread_id of delete',
    body: () => ({ type: 'threads.delete', params: { thread_id: HIGH } }),
    field: 'params.thread_id',
  },
  {
    name: 'NUL in the threads.list cursor',
    body: () => ({ type: 'threads.list', params: { after: NUL } }),
    field: 'params.after',
  },
  {
    name: 'surrogate in the items.list cursor',
    body: (t) => ({ type: 'items.list', params: { thread_id: t, after: HIGH } }),
    field: 'params.after',
  },
  {
    name: 'NUL in a feedback item id',
    body: (t) => ({ type: 'items.feedback', params: { thread_id: t, item_ids: [NUL], kind: 'positive' } }),
    field: 'params.item_ids[0]',
  },
  {
    name: 'NUL in an attachment name',
    body: () => ({ type: 'attachments.create', params: { name: NUL, size: 1, mime_type: 'text/plain' } }),
    field: 'params.name',
  },
  {
    name: 'NUL in attachment_id',
    body: () => ({ type: 'attachments.delete', params: { attachment_id: NUL } }),
    field: 'params.attachment_id',
  },
  {
    name: 'NUL in a metadata value',
    body: () => ({ type: 'threads.list', params: {}, metadata: { page: { title: NUL } } }),
    field: 'metadata.page.title',
  },
  {
    name: 'NUL in a metadata key',
    body: () => ({ type: 'threads.list', params: {}, metadata: { [NUL]: 1 } }),
    field: 'metadata',
  },
  {
    name: 'surrogate in a metadata key of a new thread',
    body: () => ({ type: 'threads.create', params: { input: userInput('hi') }, metadata: { [HIGH]: 1 } }),
    field: 'metadata',
  },
  {
    name: 'NUL deep in a client tool result',
    body: (t) => ({
      type: 'threads.add_client_tool_output',
      params: { thread_id: t, result: { rows: [{ name: NUL }] } },
    }),
    field: 'params.result.rows[0].name',
  },
  {
    name: 'NUL in an action type',
    body: (t) => ({ type: 'threads.custom_action', params: { thread_id: t, action: { type: NUL } } }),
    field: 'params.action.type',
  },
  {
    name: 'surrogate in an action payload',
    body: (t) => ({
      type: 'threads.sync_custom_action',
      params: { thread_id: t, action: { type: 'like', payload: { what: [HIGH] } } },
    }),
    field: 'params.action.payload.what[0]',
  },
  {
    name: 'NUL in a structured input answer key',
    body: (t) => ({
      type: 'threads.add_structured_input',
      params: { thread_id: t, item_id: 'msg_1', input: { answers: { [NUL]: { values: ['x'] } } } },
    }),
    field: 'params.input.answers',
  },
  {
    name: 'NUL in a structured input answer value',
    body: (t) => ({
      type: 'threads.add_structured_input',
      params: { thread_id: t, item_id: 'msg_1', input: { answers: { q1: { values: [NUL] } } } },
    }),
    field: 'params.input.answers.q1.values[0]',
  },
  {
    name: 'NUL in a key the protocol ignores',
    body: () => ({ type: 'threads.list', params: { [NUL]: 'x' } }),
    field: 'params',
  },
];

/** A string of `n` characters. */
const chars = (n: number) => 'x'.repeat(n);

/** Bodies with one field just over its limit; the 400 must name the field and the limit. */
const OVERLONG_CASES: Array<Case & { limit: number }> = [
  {
    name: 'message text',
    body: () => ({
      type: 'threads.create',
      params: { input: { content: [text(chars(INPUT_LIMITS.messageTextChars + 1))] } },
    }),
    field: 'params.input.content[0].text',
    limit: INPUT_LIMITS.messageTextChars,
  },
  {
    name: 'quoted_text',
    body: () => ({
      type: 'threads.create',
      params: { input: userInput('hi', { quoted_text: chars(INPUT_LIMITS.quotedTextChars + 1) }) },
    }),
    field: 'params.input.quoted_text',
    limit: INPUT_LIMITS.quotedTextChars,
  },
  {
    name: 'thread_id',
    body: () => ({ type: 'threads.get_by_id', params: { thread_id: chars(INPUT_LIMITS.idChars + 1) } }),
    field: 'params.thread_id',
    limit: INPUT_LIMITS.idChars,
  },
  {
    name: 'cursor',
    body: () => ({ type: 'threads.list', params: { after: chars(INPUT_LIMITS.idChars + 1) } }),
    field: 'params.after',
    limit: INPUT_LIMITS.idChars,
  },
  {
    name: 'action type',
    body: (t) => ({
      type: 'threads.custom_action',
      params: { thread_id: t, action: { type: chars(INPUT_LIMITS.nameChars + 1) } },
    }),
    field: 'params.action.type',
    limit: INPUT_LIMITS.nameChars,
  },
  {
    name: 'metadata',
    body: () => ({
      type: 'threads.list',
      params: {},
      metadata: { page: chars(INPUT_LIMITS.metadataJsonChars) },
    }),
    field: 'metadata',
    limit: INPUT_LIMITS.metadataJsonChars,
  },
  {
    name: 'action payload',
    body: (t) => ({
      type: 'threads.custom_action',
      params: { thread_id: t, action: { type: 'like', payload: chars(INPUT_LIMITS.payloadJsonChars) } },
    }),
    field: 'params.action.payload',
    limit: INPUT_LIMITS.payloadJsonChars,
  },
  {
    name: 'client tool result',
    body: (t) => ({
      type: 'threads.add_client_tool_output',
      params: { thread_id: t, result: chars(INPUT_LIMITS.payloadJsonChars) },
    }),
    field: 'params.result',
    limit: INPUT_LIMITS.payloadJsonChars,
  },
  {
    name: 'feedback item ids',
    body: (t) => ({
      type: 'items.feedback',
      params: {
        thread_id: t,
        item_ids: Array.from({ length: INPUT_LIMITS.itemsPerRequest + 1 }, (_, i) => `msg_${i}`),
        kind: 'positive',
      },
    }),
    field: 'params.item_ids',
    limit: INPUT_LIMITS.itemsPerRequest,
  },
];

describe('hostile and over-long input', () => {
  let app: TestApp;
  let threadId: string;
  let itemsAtStart: number;
  const owner = uniqueUser('hostile-owner');
  // Sends every hostile request; must end up with nothing stored.
  const attacker = uniqueUser('hostile');

  beforeAll(async () => {
    app = await startApp({ OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined });
    // A real thread of the attacker, so thread-scoped requests would otherwise reach the database.
    const created = await chatkit(app, owner, { type: 'threads.create', params: { input: userInput('hi') } });
    expect(created.status).toBe(200);
    threadId = created.events[0].thread.id;
    const thread = await chatkit(app, owner, { type: 'threads.get_by_id', params: { thread_id: threadId } });
    itemsAtStart = thread.json.items.data.length;
  });
  afterAll(() => app.close());

  function expectRefused(status: number, json: any, field: string): void {
    expect({ status, code: json?.code }).toEqual({ status: 400, code: 'validation_failed' });
    expect(json.message).toMatch(new RegExp(`(^|; )${escape(field)}: `));
  }

  it.each(CHATKIT_CASES.map((c) => [c.name, c] as const))(
    'POST /chatkit refuses %s, naming the field',
    async (_name, c) => {
      const res = await chatkit(app, owner, c.body(threadId));
      expectRefused(res.status, res.json, c.field);
      expect(res.json.message).toMatch(/NUL character|unpaired UTF-16 surrogate/);
    },
  );

  it('stores nothing from refused requests', async () => {
    for (const c of CHATKIT_CASES) {
      const res = await chatkit(app, attacker, c.body('thr_missing'));
      expect(res.status).toBe(400);
    }
    const list = await chatkit(app, attacker, { type: 'threads.list', params: {} });
    expect(list.json.data).toEqual([]);
    const thread = await chatkit(app, owner, { type: 'threads.get_by_id', params: { thread_id: threadId } });
    expect(thread.status).toBe(200);
    expect(thread.json.title ?? '').not.toContain('\u0000');
    expect(thread.json.title ?? '').not.toMatch(/[\ud800-\udfff]/);
    expect(thread.json.items.data).toHaveLength(itemsAtStart);
  });

  it.each(OVERLONG_CASES.map((c) => [c.name, c] as const))(
    'POST /chatkit refuses an over-long %s, naming the field and the limit',
    async (_name, c) => {
      const res = await chatkit(app, owner, c.body(threadId));
      expectRefused(res.status, res.json, c.field);
      expect(res.json.message).toContain(String(c.limit));
    },
  );

  it('limits a title to the same length on threads.update and PATCH /api/threads/:id', async () => {
    const max = INPUT_LIMITS.titleChars;
    const update = await chatkit(app, owner, {
      type: 'threads.update',
      params: { thread_id: threadId, title: chars(max + 1) },
    });
    expectRefused(update.status, update.json, 'params.title');
    expect(update.json.message).toContain(`at most ${max} characters`);
    const patch = await app.fetch(`/api/threads/${threadId}`, {
      method: 'PATCH',
      user: owner,
      json: { title: chars(max + 1) },
    });
    const patchJson: any = await patch.json();
    expectRefused(patch.status, patchJson, 'title');
    expect(patchJson.message).toContain(`at most ${max} characters`);

    const ok = await chatkit(app, owner, {
      type: 'threads.update',
      params: { thread_id: threadId, title: chars(max) },
    });
    expect(ok.status).toBe(200);
    expect(ok.json.title).toHaveLength(max);
  });

  it('refuses a body nested 10,000 levels deep, naming where', async () => {
    // Written as text: JSON.stringify itself cannot serialize this depth.
    const deep = '{"a":'.repeat(10_000) + '"leaf"' + '}'.repeat(10_000);
    const res = await app.fetch('/chatkit', {
      method: 'POST',
      user: owner,
      headers: { 'Content-Type': 'application/json' },
      body: `{"type":"threads.list","params":{},"metadata":${deep}}`,
    });
    const json: any = await res.json();
    expectRefused(res.status, json, `metadata${'.a'.repeat(INPUT_LIMITS.jsonDepth - 1)}`);
    expect(json.message).toContain(`more than ${INPUT_LIMITS.jsonDepth} levels`);
  });

  it('refuses a type that is an object with prototype-named keys, naming the field', async () => {
    const res = await chatkit(app, owner, {
      type: { toString: {}, constructor: 1, prototype: [] },
      params: {},
    });
    expectRefused(res.status, res.json, 'type');
    const proto = await app.fetch('/chatkit', {
      method: 'POST',
      user: owner,
      headers: { 'Content-Type': 'application/json' },
      body: '{"type":"threads.list","params":{},"metadata":{"__proto__":{"isAdmin":true}}}',
    });
    expectRefused(proto.status, await proto.json(), 'metadata');
  });

  describe('REST routes', () => {
    async function rest(path: string, init: RequestInit & { json?: unknown; user?: string } = {}) {
      const res = await app.fetch(path, { user: owner, ...init });
      const raw = await res.text();
      return { status: res.status, json: raw ? JSON.parse(raw) : undefined };
    }

    it.each([
      ['GET /api/threads/%00', '/api/threads/%00', 'GET', 'id'],
      ['GET /api/threads/a%00b/items', '/api/threads/a%00b/items', 'GET', 'id'],
      ['DELETE /api/threads/%00', '/api/threads/%00', 'DELETE', 'id'],
      ['GET /api/threads?after=a%00b', '/api/threads?after=a%00b', 'GET', 'after'],
      ['GET /api/search?q=a%00b', '/api/search?q=a%00b', 'GET', 'q'],
      ['GET /chatkit/attachments/%00', '/chatkit/attachments/%00', 'GET', 'id'],
      ['DELETE /chatkit/attachments/%00', '/chatkit/attachments/%00', 'DELETE', 'id'],
      ['GET /chatkit/attachments/%00/content', '/chatkit/attachments/%00/content?exp=1&sig=x', 'GET', 'id'],
      [
        'GET /chatkit/attachments/x/content?sig=%00',
        '/chatkit/attachments/x/content?exp=1&sig=%00',
        'GET',
        'sig',
      ],
    ])('%s is refused, naming the field', async (_name, path, method, field) => {
      const res = await rest(path, { method });
      expectRefused(res.status, res.json, field);
      expect(res.json.message).toContain('NUL character');
    });

    it('PATCH /api/threads/:id refuses a NUL in the title and keeps the old title', async () => {
      const res = await rest(`/api/threads/${threadId}`, { method: 'PATCH', json: { title: NUL } });
      expectRefused(res.status, res.json, 'title');
      const thread = await rest(`/api/threads/${threadId}`);
      expect(thread.json.title ?? '').not.toContain('\u0000');
    });

    it('POST /api/threads and /messages refuse hostile message text', async () => {
      const create = await rest('/api/threads', {
        method: 'POST',
        user: attacker,
        json: { input: { content: [text(HIGH)] } },
      });
      expectRefused(create.status, create.json, 'input.content[0].text');
      const add = await rest(`/api/threads/${threadId}/messages`, {
        method: 'POST',
        json: { input: { content: [text('ok')] }, metadata: { user: { name: NUL } } },
      });
      expectRefused(add.status, add.json, 'metadata.user.name');
      const list = await rest('/api/threads', { user: attacker });
      expect(list.json.data).toEqual([]);
    });

    it('POST /api/documents refuses NUL in JSON fields and in multipart field values', async () => {
      const admin = uniqueUser('hostile-admin');
      // An org of its own, so the list below sees only what this test could have stored.
      const org = uniqueUser('hostile-org');
      const authorization = `Bearer ${await tokenFor(admin, { org, roles: ['admin'] })}`;
      const json = await fetch(`${app.url}/api/documents`, {
        method: 'POST',
        headers: { Authorization: authorization, 'Content-Type': 'application/json' },
        body: JSON.stringify({ source: 'notes.md', content: `# Notes\n${NUL}` }),
      });
      expectRefused(json.status, await json.json(), 'content');

      const form = new FormData();
      form.set('title', NUL);
      form.set('file', new Blob(['# Notes\nplain'], { type: 'text/markdown' }), 'notes.md');
      const multipart = await fetch(`${app.url}/api/documents`, {
        method: 'POST',
        headers: { Authorization: authorization },
        body: form,
      });
      expectRefused(multipart.status, await multipart.json(), 'title');

      const list = await fetch(`${app.url}/api/documents`, { headers: { Authorization: authorization } });
      expect(((await list.json()) as any).data).toEqual([]);
    });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

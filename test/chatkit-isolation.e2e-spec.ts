/**
 * No user can see, change or infer another user's data, and bad input changes nothing:
 * isolation across users and orgs, 4xx (never 5xx) for malformed bodies, and the REST routes.
 */
import { DataSource } from 'typeorm';
import { RESPONDER } from 'src/chatkit/chatkit.ports';
import { BAD_REQUESTS } from 'test/fixtures/bad-requests';
import { chatkit, parseSse, userInput } from 'test/support/chatkit-client';
import { assistantReply, ScriptedResponder } from 'test/support/scripted-responder';
import { startApp, uniqueUser, type TestApp } from 'test/support/test-app';

describe('isolation, bad input and REST', () => {
  let app: TestApp;
  const responder = new ScriptedResponder();

  beforeAll(async () => {
    app = await startApp({ CHATKIT_HEARTBEAT_MS: '0', BODY_LIMIT_KB: '64' }, (b) =>
      b.overrideProvider(RESPONDER).useValue(responder),
    );
  });
  afterAll(() => app.close());

  async function tableCounts(): Promise<Record<string, number>> {
    const ds = app.app.get(DataSource);
    const out: Record<string, number> = {};
    for (const t of ['threads', 'thread_items', 'feedback', 'thread_runs']) {
      out[t] = Number((await ds.query(`SELECT count(*)::int AS n FROM ${t}`))[0].n);
    }
    return out;
  }

  describe('user B and user A', () => {
    const alice = uniqueUser('alice');
    const bob = uniqueUser('bob');
    let threadId: string;
    let userMsgId: string;
    let assistantId: string;

    beforeAll(async () => {
      responder.script = (thread, input, ctx) => assistantReply(thread, ctx, 'secret answer');
      const res = await chatkit(app, alice, {
        type: 'threads.create',
        params: { input: userInput('alice secret') },
      });
      threadId = res.events[0].thread.id;
      userMsgId = res.events[1].item.id;
      assistantId = res.events.at(-1).item.id;
    });

    const missing = 'thr_doesnotexist0000000000000000';
    const attempts: Array<[string, (t: string, u: string, a: string) => unknown]> = [
      ['threads.get_by_id', (t) => ({ type: 'threads.get_by_id', params: { thread_id: t } })],
      ['threads.update', (t) => ({ type: 'threads.update', params: { thread_id: t, title: 'pwned' } })],
      ['threads.delete', (t) => ({ type: 'threads.delete', params: { thread_id: t } })],
      ['items.list', (t) => ({ type: 'items.list', params: { thread_id: t } })],
      [
        'items.feedback',
        (t, u, a) => ({ type: 'items.feedback', params: { thread_id: t, item_ids: [a], kind: 'negative' } }),
      ],
      [
        'threads.add_user_message',
        (t) => ({
          type: 'threads.add_user_message',
          params: { thread_id: t, input: userInput('intrusion') },
        }),
      ],
      [
        'threads.retry_after_item',
        (t, u) => ({ type: 'threads.retry_after_item', params: { thread_id: t, item_id: u } }),
      ],
      [
        'threads.add_client_tool_output',
        (t) => ({ type: 'threads.add_client_tool_output', params: { thread_id: t, result: {} } }),
      ],
      [
        'threads.custom_action',
        (t) => ({ type: 'threads.custom_action', params: { thread_id: t, action: { type: 'x' } } }),
      ],
      [
        'threads.sync_custom_action',
        (t) => ({ type: 'threads.sync_custom_action', params: { thread_id: t, action: { type: 'x' } } }),
      ],
      [
        'threads.add_structured_input',
        (t, u) => ({
          type: 'threads.add_structured_input',
          params: { thread_id: t, item_id: u, input: { answers: {} } },
        }),
      ],
    ];

    it.each(attempts)(
      "%s on A's thread answers B exactly as for a thread that does not exist",
      async (_name, make) => {
        const before = await tableCounts();
        const theirs = await chatkit(app, bob, make(threadId, userMsgId, assistantId));
        const none = await chatkit(app, bob, make(missing, userMsgId, assistantId));
        expect(theirs.status).toBe(404);
        expect(theirs.headers.get('content-type')).toContain('application/json');
        expect({ ...theirs.json, requestId: 'x' }).toEqual({ ...none.json, requestId: 'x' });
        expect(await tableCounts()).toEqual(before);
      },
    );

    it("B does not see A's threads in lists, and A's thread is untouched", async () => {
      const list = await chatkit(app, bob, { type: 'threads.list', params: {} });
      expect(list.json.data.map((t: any) => t.id)).not.toContain(threadId);
      const mine = await chatkit(app, alice, { type: 'threads.get_by_id', params: { thread_id: threadId } });
      expect(mine.status).toBe(200);
      expect(mine.json.title).toBeUndefined();
      expect(mine.json.items.data.map((i: any) => i.id)).toEqual([userMsgId, assistantId]);
    });

    it('the same user id in another org is another user', async () => {
      const other = await chatkit(
        app,
        alice,
        { type: 'threads.get_by_id', params: { thread_id: threadId } },
        { org: 'other-org' },
      );
      expect(other.status).toBe(404);
    });

    // The REST routes, at their path and at the deprecated alias, which must behave the same.
    it.each(['/chatkit/threads', '/api/threads'])(
      "B cannot read A's thread through REST at %s either",
      async (base) => {
        for (const [method, path] of [
          ['GET', `${base}/${threadId}`],
          ['GET', `${base}/${threadId}/items`],
          ['DELETE', `${base}/${threadId}`],
          ['POST', `${base}/${threadId}/messages`],
        ] as const) {
          const res = await app.fetch(path, {
            method,
            user: bob,
            ...(method === 'POST' ? { json: { input: userInput('intrusion') } } : {}),
          });
          expect(res.status).toBe(404);
        }
        const patch = await app.fetch(`${base}/${threadId}`, {
          method: 'PATCH',
          user: bob,
          json: { title: 'x' },
        });
        expect(patch.status).toBe(404);
        const mine = await chatkit(app, alice, {
          type: 'threads.get_by_id',
          params: { thread_id: threadId },
        });
        expect(mine.json.items.data).toHaveLength(2);
      },
    );
  });

  describe('malformed bodies', () => {
    it(`answers each of ${BAD_REQUESTS.length} malformed bodies with a 4xx naming the field, writing nothing`, async () => {
      expect(BAD_REQUESTS.length).toBeGreaterThanOrEqual(30);
      const user = uniqueUser();
      const before = await tableCounts();
      for (const bad of BAD_REQUESTS) {
        const res = await app.fetch('/chatkit', {
          method: 'POST',
          user,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(bad.body),
        });
        const body = (await res.json()) as { statusCode: number; code: string; message: string };
        expect({ name: bad.name, status: res.status }).toEqual({ name: bad.name, status: 400 });
        expect(body.code).toBe('validation_failed');
        expect(body.message).toContain(bad.field);
      }
      expect(await tableCounts()).toEqual(before);
    });

    it('refuses bodies that are not JSON, or too large, with 4xx', async () => {
      const user = uniqueUser();
      const notJson = await app.fetch('/chatkit', {
        method: 'POST',
        user,
        headers: { 'Content-Type': 'application/json' },
        body: '{"type":',
      });
      expect(notJson.status).toBe(400);
      const huge = await app.fetch('/chatkit', {
        method: 'POST',
        user,
        json: { type: 'threads.create', params: { input: userInput('x'.repeat(80 * 1024)) } },
      });
      expect(huge.status).toBe(413);
      expect(await huge.json()).toMatchObject({ code: 'payload_too_large' });
      const textPlain = await app.fetch('/chatkit', {
        method: 'POST',
        user,
        headers: { 'Content-Type': 'text/plain' },
        body: 'hello',
      });
      expect(textPlain.status).toBe(400);
    });

    it('answers unimplemented request types with 501 and a clear code', async () => {
      const user = uniqueUser();
      const res = await chatkit(app, user, {
        type: 'input.transcribe',
        params: { audio_base64: 'AAAA', mime_type: 'audio/webm' },
      });
      expect(res.status).toBe(501);
      expect(res.json).toMatchObject({ code: 'not_implemented' });
    });
  });

  describe('REST routes', () => {
    it.each(['/chatkit/threads', '/api/threads'])(
      'creates, lists, reads, renames, pages and deletes threads at %s',
      async (base) => {
        const user = uniqueUser();
        responder.script = (thread, input, ctx) => assistantReply(thread, ctx, 'rest answer');
        const created = await app.fetch(base, {
          method: 'POST',
          user,
          json: { input: userInput('from REST') },
        });
        expect(created.status).toBe(200);
        expect(created.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const events = parseSse(await created.text());
        expect(events.map((e) => e.type)[0]).toBe('thread.created');
        const id = events[0].thread.id;

        const more = await app.fetch(`${base}/${id}/messages`, {
          method: 'POST',
          user,
          json: { input: userInput('second') },
        });
        expect(parseSse(await more.text()).at(-1).item.content[0].text).toBe('rest answer');

        const list = (await (await app.fetch(`${base}?limit=5`, { user })).json()) as any;
        expect(list.data.map((t: any) => t.id)).toEqual([id]);
        const items = (await (
          await app.fetch(`${base}/${id}/items?limit=3&order=asc`, { user })
        ).json()) as any;
        expect(items.data).toHaveLength(3);
        expect(items.has_more).toBe(true);
        const next = (await (
          await app.fetch(`${base}/${id}/items?limit=3&order=asc&after=${items.after}`, { user })
        ).json()) as any;
        expect(next.data).toHaveLength(1);

        const renamed = await app.fetch(`${base}/${id}`, {
          method: 'PATCH',
          user,
          json: { title: 'Named' },
        });
        expect(((await renamed.json()) as any).title).toBe('Named');
        const got = (await (await app.fetch(`${base}/${id}`, { user })).json()) as any;
        expect(got.items.data).toHaveLength(4);

        const bad = await app.fetch(`${base}?limit=0`, { user });
        expect(bad.status).toBe(400);
        expect(((await bad.json()) as any).message).toContain('limit');

        expect((await app.fetch(`${base}/${id}`, { method: 'DELETE', user })).status).toBe(204);
        expect((await app.fetch(`${base}/${id}`, { user })).status).toBe(404);
      },
    );
  });
});

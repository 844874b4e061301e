/**
 * Stopping a running answer without being its client: the REST stop route and the `stop_response`
 * action of the ChatKit protocol, sent from a second tab of the same user. The answer ends as if
 * its client had pressed stop: the partial answer is stored, the model is told it was cut short on
 * the next turn, the live stream ends, and the thread is free at once. Another user cannot stop
 * it, nor learn that it runs. (Across replicas: test/replicas.e2e-spec.ts.)
 */
import { chatkit } from 'test/support/chatkit-client';
import { startFakeOpenAI, type FakeOpenAI } from 'test/support/fake-openai';
import {
  followStream,
  lastStreamedModelCall,
  pacedAnswers,
  type FollowedStream,
} from 'test/support/paced-stream';
import { startApp, uniqueUser, type TestApp } from 'test/support/test-app';

const message = (text: string) => ({
  content: [{ type: 'input_text', text }],
  attachments: [],
  inference_options: {},
});
const textOf = (item: any): string => (item.content ?? []).map((c: any) => c.text ?? '').join('');
const answerDone = (events: any[]) =>
  events.some((e) => e.type === 'thread.item.done' && e.item.type === 'assistant_message');

describe('stopping an answer from another tab', () => {
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultModelTurn: pacedAnswers() });
    app = await startApp({ OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'test' });
  });

  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  const start = (user: string, text: string): Promise<FollowedStream> =>
    followStream((signal) =>
      app.fetch('/chatkit', {
        method: 'POST',
        user,
        json: { type: 'threads.create', params: { input: message(text) } },
        signal,
      }),
    );
  const threadIdOf = (s: FollowedStream): string =>
    s.events.find((e) => e.type === 'thread.created').thread.id;

  async function expectStoppedAndFree(user: string, threadId: string, events: any[]): Promise<void> {
    expect(answerDone(events)).toBe(false);
    const next = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: message('next question') },
    });
    expect(next.status).toBe(200);
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    const stored = items.json.data;
    expect(stored.map((i: any) => i.type)).toEqual([
      'user_message',
      'assistant_message',
      'user_message',
      'assistant_message',
    ]);
    expect(textOf(stored[1])).toMatch(/^word0/);
    expect(textOf(stored[1]).split(' ').length).toBeLessThan(200);
    const lastModelCall = lastStreamedModelCall(fake);
    expect(JSON.stringify(lastModelCall.body)).toContain('The user cancelled the stream');
  }

  it('POST /chatkit/threads/{id}/stop ends the running answer and keeps what was said', async () => {
    const user = uniqueUser('stopper');
    const running = await start(user, 'slow-200 a long answer');
    const threadId = threadIdOf(running);
    const res = await app.fetch(`/chatkit/threads/${threadId}/stop`, { method: 'POST', user });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stopped: true });
    await expectStoppedAndFree(user, threadId, await running.ended);
  });

  it('the stop_response action of the protocol does the same', async () => {
    const user = uniqueUser('stopper');
    const running = await start(user, 'slow-200 another long answer');
    const threadId = threadIdOf(running);
    const res = await chatkit(app, user, {
      type: 'threads.sync_custom_action',
      params: { thread_id: threadId, action: { type: 'stop_response', payload: {} } },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({});
    await expectStoppedAndFree(user, threadId, await running.ended);
  });

  it("another user's stop is a 404 and the answer runs on", async () => {
    const owner = uniqueUser('owner');
    const running = await start(owner, 'slow-12 mine');
    const threadId = threadIdOf(running);
    const res = await app.fetch(`/chatkit/threads/${threadId}/stop`, {
      method: 'POST',
      user: uniqueUser('stranger'),
    });
    expect(res.status).toBe(404);
    const action = await chatkit(app, uniqueUser('stranger'), {
      type: 'threads.sync_custom_action',
      params: { thread_id: threadId, action: { type: 'stop_response', payload: {} } },
    });
    expect(action.status).toBe(404);
    expect(answerDone(await running.ended)).toBe(true);
  });

  it('stopping a thread with no running answer changes nothing', async () => {
    const user = uniqueUser('idle');
    const created = await chatkit(app, user, { type: 'threads.create', params: { input: message('hello') } });
    const threadId = created.events.find((e) => e.type === 'thread.created').thread.id;
    // The run's lease goes a moment after the last event; from then on there is nothing to stop.
    let answer: unknown;
    for (let i = 0; i < 50; i++) {
      const res = await app.fetch(`/chatkit/threads/${threadId}/stop`, { method: 'POST', user });
      expect(res.status).toBe(200);
      answer = await res.json();
      if ((answer as { stopped: boolean }).stopped === false) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(answer).toEqual({ stopped: false });
    const items = await chatkit(app, user, { type: 'items.list', params: { thread_id: threadId } });
    expect(items.json.data).toHaveLength(2);
    expect(textOf(items.json.data[0])).toBe('Short answer.');
  });
});

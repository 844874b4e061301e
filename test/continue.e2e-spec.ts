/**
 * Answers that survive a reload (CHATKIT_ON_DISCONNECT=continue): a client that leaves detaches
 * from its answer instead of stopping it. The answer runs to its end and is stored whole; while it
 * runs, its progress is stored every CHATKIT_PROGRESS_SAVE_MS, so a reloaded page sees how far it
 * got; a stop request is then the way to stop it. (The default, `cancel`, is covered by
 * test/streams.e2e-spec.ts and test/stop.e2e-spec.ts.)
 */
import { chatkit } from 'test/support/chatkit-client';
import { startFakeOpenAI, type FakeOpenAI } from 'test/support/fake-openai';
import { followStream, lastStreamedModelCall, PACED_DELTA_MS, pacedAnswers } from 'test/support/paced-stream';
import { startApp, uniqueUser, type TestApp } from 'test/support/test-app';

const WORDS = 40;
const message = (text: string) => ({
  content: [{ type: 'input_text', text }],
  attachments: [],
  inference_options: {},
});
const textOf = (item: any): string => (item?.content ?? []).map((c: any) => c.text ?? '').join('');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CHATKIT_ON_DISCONNECT=continue', () => {
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultModelTurn: pacedAnswers() });
    app = await startApp({
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'test',
      CHATKIT_ON_DISCONNECT: 'continue',
      CHATKIT_PROGRESS_SAVE_MS: '500',
    });
  });

  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  /** Starts a long answer, reads its first words, and leaves as a reloading page does. */
  async function startAndLeave(user: string): Promise<string> {
    const stream = await followStream((signal) =>
      app.fetch('/chatkit', {
        method: 'POST',
        user,
        json: { type: 'threads.create', params: { input: message(`slow-${WORDS} keep going`) } },
        signal,
      }),
    );
    expect(stream.status).toBe(200);
    const threadId = stream.events.find((e) => e.type === 'thread.created').thread.id;
    stream.abort();
    return threadId;
  }

  const answerOf = async (user: string, threadId: string): Promise<any> => {
    const res = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(res.status).toBe(200);
    return res.json.data.find((i: any) => i.type === 'assistant_message');
  };

  it('keeps answering after the client leaves; a reload sees the progress, then the whole answer', async () => {
    const user = uniqueUser('reloader');
    const threadId = await startAndLeave(user);

    // The model's request is not aborted by the client leaving.
    const modelCall = lastStreamedModelCall(fake);
    // Progress: part of the answer is stored while the rest still streams.
    let partial: any;
    for (let i = 0; i < 100 && !partial; i++) {
      await sleep(100);
      const answer = await answerOf(user, threadId);
      const words = textOf(answer).split(' ').filter(Boolean).length;
      if (words > 0 && words < WORDS) partial = answer;
    }
    expect(partial).toBeDefined();
    expect(textOf(partial)).toMatch(/^word0/);
    // Still running: the thread takes no other message yet.
    const busy = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: message('are you done?') },
    });
    expect(busy.status).toBe(409);

    // Then the answer runs to its end and is stored whole, under the same item.
    let whole: any;
    for (let i = 0; i < 100; i++) {
      whole = await answerOf(user, threadId);
      if (textOf(whole).split(' ').length === WORDS) break;
      await sleep(PACED_DELTA_MS);
    }
    expect(textOf(whole)).toBe(Array.from({ length: WORDS }, (_, i) => `word${i}`).join(' '));
    expect(whole.id).toBe(partial.id);
    const finished = await fake.waitForRequestEnd(modelCall.index, 10_000);
    expect(finished.clientClosed).toBe(false);

    // Not a cancellation: the next turn carries no "cancelled" marker.
    const next = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: message('thanks') },
    });
    expect(next.status).toBe(200);
    const lastModelCall = lastStreamedModelCall(fake);
    expect(JSON.stringify(lastModelCall.body)).not.toContain('The user cancelled the stream');
  });

  it('a stop request stops a detached answer, keeping what it had said', async () => {
    const user = uniqueUser('stopper');
    const threadId = await startAndLeave(user);
    await sleep(PACED_DELTA_MS * 5);
    const res = await app.fetch(`/chatkit/threads/${threadId}/stop`, { method: 'POST', user });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stopped: true });

    for (let i = 0; i < 50; i++) {
      const next = await chatkit(app, user, {
        type: 'threads.add_user_message',
        params: { thread_id: threadId, input: message('after the stop') },
      });
      if (next.status === 200) break;
      await sleep(100);
    }
    const answer = await answerOf(user, threadId);
    expect(textOf(answer)).toMatch(/^word0/);
    expect(textOf(answer).split(' ').length).toBeLessThan(WORDS);
    const lastModelCall = lastStreamedModelCall(fake);
    expect(JSON.stringify(lastModelCall.body)).toContain('The user cancelled the stream');
  });
});

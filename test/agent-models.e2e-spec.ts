/**
 * The composer's model picker (`inference_options.model`): a model the server offers answers the
 * message, the default answers when none is picked, and anything else is refused with a 400
 * before the message is stored. A turn continued after a client tool keeps its model.
 */
import { z } from 'zod';
import { AgentTools } from 'src/agent/agent-tools.registry';
import { chatkit, userInput } from 'test/support/chatkit-client';
import { FakeOpenAI, textTurn, toolCallTurn, type RecordedRequest } from 'test/support/fake-openai';
import { startApp, uniqueUser, type TestApp } from 'test/support/test-app';

const modelOf = (request: RecordedRequest): unknown => (request.body as { model?: unknown }).model;

describe('composer model choice', () => {
  let fake: FakeOpenAI;
  let app: TestApp;

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    app = await startApp({
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'test',
      OPENAI_API: 'responses',
      AGENT_MODEL: 'gpt-default',
      AGENT_MODELS: 'gpt-large, gpt-fast',
      AGENT_TITLE_MODEL: 'gpt-title',
      AGENT_MAX_RETRIES: '0',
      CHATKIT_HEARTBEAT_MS: '0',
      RAG_SEED_DOCS: 'false',
      RAG_EMBEDDINGS_MODEL: undefined,
    });
    app.app.get(AgentTools).registerClientTool({
      name: 'get_selection',
      description: 'Read the text the user has selected',
      parameters: z.object({}),
    });
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());
  afterEach(() => expect(fake.pendingModelTurns).toBe(0));

  const modelCalls = (): unknown[] =>
    fake
      .requestsTo('/v1/responses')
      .filter((r) => modelOf(r) !== 'gpt-title')
      .map(modelOf);

  it('answers with the picked model, and with AGENT_MODEL when none is picked', async () => {
    const user = uniqueUser();
    fake.enqueue(textTurn('Large answer.'), textTurn('A title'));
    const first = await chatkit(app, user, {
      type: 'threads.create',
      params: { input: userInput('Hello', { inference_options: { model: 'gpt-large' } }) },
    });
    expect(first.status).toBe(200);
    expect(first.events.some((e) => e.type === 'error')).toBe(false);
    const threadId = first.events[0].thread.id;
    // The picked model is stored with the message, as the client sent it.
    expect(first.events[1].item.inference_options).toEqual({ model: 'gpt-large' });

    fake.enqueue(textTurn('Default answer.'));
    const second = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: { thread_id: threadId, input: userInput('And again') },
    });
    expect(second.status).toBe(200);
    expect(modelCalls()).toEqual(['gpt-large', 'gpt-default']);
  });

  it('refuses a model the server does not offer with a 400 naming the choices, and stores nothing', async () => {
    const user = uniqueUser();
    const res = await chatkit(app, user, {
      type: 'threads.create',
      params: { input: userInput('Hello', { inference_options: { model: 'gpt-unlisted' } }) },
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'validation_failed' });
    expect(res.json.message).toContain('inference_options.model');
    expect(res.json.message).toContain('"gpt-unlisted"');
    expect(res.json.message).toContain('"gpt-default", "gpt-large", "gpt-fast"');
    const threads = await chatkit(app, user, { type: 'threads.list', params: {} });
    expect(threads.json.data).toEqual([]);

    // The same on an existing thread: the message is not added.
    fake.enqueue(textTurn('Fine.'), textTurn('A title'));
    const created = await chatkit(app, user, { type: 'threads.create', params: { input: userInput('Hi') } });
    const threadId = created.events[0].thread.id;
    const refused = await chatkit(app, user, {
      type: 'threads.add_user_message',
      params: {
        thread_id: threadId,
        input: userInput('Use another model', { inference_options: { model: 'gpt-unlisted' } }),
      },
    });
    expect(refused.status).toBe(400);
    const items = await chatkit(app, user, {
      type: 'items.list',
      params: { thread_id: threadId, order: 'asc' },
    });
    expect(items.json.data.map((i: { type: string }) => i.type)).toEqual([
      'user_message',
      'assistant_message',
    ]);
    expect(modelCalls()).toEqual(['gpt-default']);
  });

  it('keeps the picked model when the turn continues after a client tool', async () => {
    const user = uniqueUser();
    fake.enqueue(toolCallTurn('get_selection', {}, { callId: 'call_1' }));
    const res = await chatkit(app, user, {
      type: 'threads.create',
      params: { input: userInput('What did I select?', { inference_options: { model: 'gpt-fast' } }) },
    });
    expect(res.status).toBe(200);
    const threadId = res.events[0].thread.id;
    fake.enqueue(textTurn('A sentence about otters.'));
    const after = await chatkit(app, user, {
      type: 'threads.add_client_tool_output',
      params: { thread_id: threadId, result: { text: 'Otters' } },
    });
    expect(after.status).toBe(200);
    expect(modelCalls()).toEqual(['gpt-fast', 'gpt-fast']);
  });
});

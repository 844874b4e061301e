/**
 * AgentService.respond end to end against the fake OpenAI server on loopback, over both the
 * Responses and the Chat Completions API: the exact ChatKit events, what the model receives, and
 * how failures, retries and aborts behave. No Nest application is needed.
 */
import { setTraceProcessors, setTracingDisabled } from '@openai/agents';
import { z } from 'zod';
import { AgentMetrics } from 'src/agent/agent.metrics';
import { AgentTools, type AgentRunContext } from 'src/agent/agent-tools.registry';
import { WidgetTemplates } from 'src/widgets/widget-templates.service';
import { AgentService } from 'src/agent/agent.service';
import { NO_ATTACHMENTS } from 'src/agent/history.converter';
import { createAgentRunner, createOpenAIClient } from 'src/agent/model-provider';
import { ThreadItemSchema } from 'src/protocol/chatkit.schemas';
import type {
  AssistantMessageItem,
  ThreadItem,
  ThreadMetadata,
  ThreadStreamEvent,
  UserMessageItem,
} from 'src/protocol/chatkit.schemas';
import { applyThreadChange } from 'src/chatkit/stream.pipeline';
import type { ResponderContext } from 'src/chatkit/chatkit.ports';
import { AppException } from 'src/common/app.exception';
import type { AgentConfig } from 'src/config/agent.config';
import type { ModelCallUsage } from 'src/usage/usage.types';
import { MetricsService } from 'src/metrics/metrics.service';
import {
  FakeOpenAI,
  dropConnectionAfter,
  errorTurn,
  fileCitation,
  modelTurn,
  reasoningTurn,
  stallAfter,
  streamErrorAfter,
  textTurn,
  toolCallTurn,
  transcriptionTurn,
  urlCitation,
} from 'test/support/fake-openai';

let fake: FakeOpenAI;

beforeAll(async () => {
  setTraceProcessors([]);
  setTracingDisabled(true);
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

function testConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    modelConfigured: true,
    apiKey: 'test-key',
    baseURL: fake.baseURL,
    api: 'responses',
    model: 'gpt-test',
    models: ['gpt-test'],
    temperature: undefined,
    maxOutputTokens: undefined,
    requestTimeoutMs: 10_000,
    maxRetries: 2,
    instructions: undefined,
    historyMessages: 10,
    historyTokenBudget: 8000,
    contextMaxChars: 2000,
    attachmentMaxBytes: 10 * 1024 * 1024,
    maxTurns: 10,
    titleModel: 'gpt-title',
    transcribeModel: undefined,
    tracing: false,
    ...overrides,
  };
}

interface Setup {
  service: AgentService;
  tools: AgentTools;
  metrics: MetricsService;
}

function setup(overrides: Partial<AgentConfig> = {}): Setup {
  const config = testConfig(overrides);
  const metrics = new MetricsService({ enabled: true, prefix: 'test_' });
  const agentMetrics = new AgentMetrics(metrics);
  const tools = new AgentTools(
    agentMetrics,
    new WidgetTemplates({ toolsFile: {}, widgetsDir: undefined, toolsFilePath: undefined }),
  );
  const client = createOpenAIClient(config);
  const service = new AgentService(
    config,
    client,
    createAgentRunner(client, config),
    tools,
    agentMetrics,
    NO_ATTACHMENTS,
  );
  return { service, tools, metrics };
}

/** A thread with its stored items, a step clock and counting id generator. */
class Conversation {
  readonly items: ThreadItem[] = [];
  readonly saved: ThreadItem[] = [];
  readonly thread: ThreadMetadata = {
    id: 'thr_test',
    created_at: '2026-01-01T00:00:00.000Z',
    title: 'Existing title',
    status: { type: 'active' },
    metadata: {},
  };
  readonly context: ResponderContext;
  /** Every model call's tokens, as the pipeline would store them. */
  readonly usage: ModelCallUsage[] = [];
  private ids = 0;
  private tick = 0;

  constructor(metadata: Record<string, unknown> = {}) {
    this.context = {
      request: { userId: 'user_1', isAdmin: false, requestId: 'req_1', metadata },
      loadHistory: (limit) => Promise.resolve(this.items.slice(-limit)),
      saveItem: (item) => {
        this.saved.push(structuredClone(item));
        return Promise.resolve();
      },
      generateId: (kind) => `${kind}_${++this.ids}`,
      now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, ++this.tick)).toISOString(),
      // Applied at once, as the pipeline would after the next event.
      updateThread: (change) => void applyThreadChange(this.thread, change),
      recordUsage: (usage) => void this.usage.push(usage),
    };
  }

  user(text: string): UserMessageItem {
    const item = ThreadItemSchema.parse({
      id: `msg_user_${this.items.length}`,
      thread_id: this.thread.id,
      created_at: this.context.now(),
      type: 'user_message',
      content: [{ type: 'input_text', text }],
    }) as UserMessageItem;
    this.items.push(item);
    return item;
  }

  /** Stores what the pipeline would persist: every `thread.item.done`. */
  persist(events: ThreadStreamEvent[]): void {
    for (const e of events) {
      if (e.type !== 'thread.item.done') continue;
      const at = this.items.findIndex((i) => i.id === e.item.id);
      if (at >= 0) this.items.splice(at, 1);
      this.items.push(e.item);
    }
  }
}

async function run(
  service: AgentService,
  conversation: Conversation,
  input: UserMessageItem | null,
  signal = new AbortController().signal,
): Promise<{ events: ThreadStreamEvent[]; error?: unknown }> {
  const events: ThreadStreamEvent[] = [];
  try {
    for await (const event of service.respond(conversation.thread, input, conversation.context, signal)) {
      events.push(event);
    }
    return { events };
  } catch (error) {
    return { events, error };
  }
}

const text = (events: ThreadStreamEvent[]): string =>
  events
    .flatMap((e) =>
      e.type === 'thread.item.updated' && e.update.type === 'assistant_message.content_part.text_delta'
        ? [e.update.delta]
        : [],
    )
    .join('');

/** `type` or `type:update.type`, to compare sequences at a glance. */
const kinds = (events: ThreadStreamEvent[]): string[] =>
  events.map((e) => {
    if (e.type === 'thread.item.updated') return `updated:${e.update.type}`;
    if (e.type === 'thread.item.added' || e.type === 'thread.item.done') return `${e.type}:${e.item.type}`;
    return e.type;
  });

const MESSAGE_SEQUENCE = (deltas: number): string[] => [
  'thread.item.added:assistant_message',
  'updated:assistant_message.content_part.added',
  ...Array.from({ length: deltas }, () => 'updated:assistant_message.content_part.text_delta'),
  'updated:assistant_message.content_part.done',
  'thread.item.done:assistant_message',
];

describe.each([
  { api: 'responses' as const, path: '/v1/responses' },
  { api: 'chat_completions' as const, path: '/v1/chat/completions' },
])('AgentService.respond over $api', ({ api, path }) => {
  it('streams an answer as the exact ChatKit event sequence', async () => {
    const { service } = setup({ api });
    const conversation = new Conversation();
    const input = conversation.user('Hi');
    fake.enqueue(textTurn('Hello there friend'));

    const { events, error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    const first = events[0] as Extract<ThreadStreamEvent, { type: 'thread.item.added' }>;
    const id = first.item.id;
    // Responses reuses the API's message item id; a completion id is not unique per item.
    expect(id).toMatch(api === 'responses' ? /^msg_fake/ : /^message_\d+$/);
    const createdAt = first.item.created_at;
    const content = { type: 'output_text', text: 'Hello there friend', annotations: [] };
    expect(events).toEqual([
      {
        type: 'thread.item.added',
        item: { id, thread_id: 'thr_test', created_at: createdAt, type: 'assistant_message', content: [] },
      },
      {
        type: 'thread.item.updated',
        item_id: id,
        update: {
          type: 'assistant_message.content_part.added',
          content_index: 0,
          content: { type: 'output_text', text: '', annotations: [] },
        },
      },
      ...['Hello', ' there', ' friend'].map((delta) => ({
        type: 'thread.item.updated',
        item_id: id,
        update: { type: 'assistant_message.content_part.text_delta', content_index: 0, delta },
      })),
      {
        type: 'thread.item.updated',
        item_id: id,
        update: { type: 'assistant_message.content_part.done', content_index: 0, content },
      },
      {
        type: 'thread.item.done',
        item: {
          id,
          thread_id: 'thr_test',
          created_at: createdAt,
          type: 'assistant_message',
          content: [content],
        },
      },
    ]);
    expect(createdAt).toMatch(/^2026-01-01T00:00:\d\d\.000Z$/);
    expect(fake.requestsTo(path)).toHaveLength(1);
    expect(fake.requests[0].stream).toBe(true);
  });

  it('runs a server tool with a progress line and a workflow task, then answers with its output', async () => {
    const { service, tools } = setup({ api });
    const seen: Array<{ args: unknown; userId: string }> = [];
    tools.register({
      name: 'search_knowledge_base',
      description: 'Search the knowledge base.',
      parameters: z.object({ query: z.string() }),
      execute: ({ query }, context: AgentRunContext) => {
        seen.push({ args: { query }, userId: context.request.userId });
        context.emit({ type: 'progress_update', text: 'Found 2 passages' });
        return 'Passage 1: refunds take 5 days. Passage 2: refunds go to the original card.';
      },
    });
    const conversation = new Conversation();
    const input = conversation.user('How do refunds work?');
    fake.enqueue(
      toolCallTurn(
        'search_knowledge_base',
        { query: 'refunds' },
        { usage: { inputTokens: 10, outputTokens: 4 } },
      ),
      textTurn('Refunds take 5 days.', { usage: { inputTokens: 40, outputTokens: 6 } }),
    );

    const { events, error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    expect(seen).toEqual([{ args: { query: 'refunds' }, userId: 'user_1' }]);
    expect(kinds(events)).toEqual([
      'progress_update',
      'thread.item.added:workflow',
      'progress_update',
      'updated:workflow.task.updated',
      'thread.item.done:workflow',
      ...MESSAGE_SEQUENCE(4),
    ]);
    expect(events[0]).toEqual({
      type: 'progress_update',
      text: 'Searching the knowledge base…',
      icon: 'search',
    });
    const task = {
      type: 'custom',
      title: 'Searched the knowledge base',
      icon: 'search',
      content: 'query: refunds',
      status_indicator: 'loading',
    };
    expect(events[1]).toMatchObject({
      item: { type: 'workflow', workflow: { type: 'custom', tasks: [task] } },
    });
    expect(events[2]).toEqual({ type: 'progress_update', text: 'Found 2 passages' });
    expect(events[3]).toMatchObject({
      update: {
        type: 'workflow.task.updated',
        task_index: 0,
        task: { ...task, status_indicator: 'complete' },
      },
    });
    expect(events[4]).toMatchObject({
      item: {
        id: (events[1] as { item: { id: string } }).item.id,
        workflow: {
          type: 'custom',
          tasks: [{ ...task, status_indicator: 'complete' }],
          summary: { duration: expect.any(Number) },
          expanded: false,
        },
      },
    });
    expect(text(events)).toBe('Refunds take 5 days.');
    expect(fake.requestsTo(path)).toHaveLength(2);
    expect(JSON.stringify(fake.requests[1].body)).toContain('refunds take 5 days');
    expect(fake.pendingModelTurns).toBe(0);
    // Token counts of both model calls add up in the thread's private metadata.
    expect(conversation.thread.metadata.usage).toEqual({
      requests: 2,
      input_tokens: 50,
      output_tokens: 10,
      total_tokens: 60,
    });
    // And each call is handed to the turn, to be stored with it.
    expect(
      conversation.usage.map((u) => [u.inputTokens, u.cachedInputTokens, u.outputTokens, u.reasoningTokens]),
    ).toEqual([
      [10, 0, 4, 0],
      [40, 0, 6, 0],
    ]);
  });

  it('ends the turn at a client tool call with a pending item and no second model call', async () => {
    const { service, tools, metrics } = setup({ api });
    tools.registerClientTool({
      name: 'pick_color',
      description: 'Ask the user to pick a colour in the browser.',
      parameters: z.object({ palette: z.array(z.string()) }),
    });
    const conversation = new Conversation();
    conversation.thread.title = undefined;
    const input = conversation.user('Choose a colour');
    fake.enqueue(
      toolCallTurn('pick_color', { palette: ['red', 'blue'] }, { callId: 'call_pick' }),
      textTurn('never sent'),
    );

    const { events, error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    expect(events).toHaveLength(1);
    const done = events[0] as Extract<ThreadStreamEvent, { type: 'thread.item.done' }>;
    expect(done).toEqual({
      type: 'thread.item.done',
      item: {
        id: expect.stringMatching(api === 'responses' ? /^fc_fake/ : /^tool_call_\d+$/),
        thread_id: 'thr_test',
        created_at: expect.any(String),
        type: 'client_tool_call',
        status: 'pending',
        call_id: 'call_pick',
        name: 'pick_color',
        arguments: { palette: ['red', 'blue'] },
      },
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.pendingModelTurns).toBe(1);
    // No answer yet, so no title either.
    expect(conversation.thread.title).toBeUndefined();
    const counted = await metrics.registry.getSingleMetric('test_agent_tool_calls_total')!.get();
    expect(counted.values).toEqual([{ labels: { tool: 'pick_color', outcome: 'client' }, value: 1 }]);
  });

  it('continues the workflow of a turn that stopped at a client tool once the result is back', async () => {
    const { service, tools } = setup({ api });
    tools.register({
      name: 'search_knowledge_base',
      description: 'Search the knowledge base.',
      parameters: z.object({ query: z.string() }),
      execute: () => 'Blue is the brand colour.',
    });
    tools.registerClientTool({
      name: 'pick_color',
      description: 'Ask the user to pick a colour.',
      parameters: { type: 'object', properties: { palette: { type: 'array', items: { type: 'string' } } } },
    });
    const conversation = new Conversation();
    const input = conversation.user('Help me pick a colour');
    fake.enqueue(
      toolCallTurn('search_knowledge_base', { query: 'brand colour' }),
      toolCallTurn('pick_color', { palette: ['blue'] }, { callId: 'call_pick' }),
    );

    const first = await run(service, conversation, input);
    expect(first.error).toBeUndefined();
    expect(kinds(first.events)).toEqual([
      'progress_update',
      'thread.item.added:workflow',
      'updated:workflow.task.updated',
      'thread.item.done:client_tool_call',
    ]);
    // The open workflow was stored without an event, for the next turn to continue.
    const workflowId = (first.events[1] as { item: { id: string } }).item.id;
    expect(conversation.saved).toMatchObject([{ id: workflowId, type: 'workflow' }]);
    expect(conversation.saved[0]).not.toHaveProperty('workflow.summary');

    // What the pipeline does next: persist, then complete the tool call with the browser's result.
    conversation.items.push(conversation.saved[0]);
    conversation.persist(first.events);
    const call = conversation.items.at(-1)!;
    expect(call.type).toBe('client_tool_call');
    Object.assign(call, { status: 'completed', output: { color: 'blue' } });
    fake.enqueue(textTurn('Blue it is.'));

    const second = await run(service, conversation, null);

    expect(second.error).toBeUndefined();
    expect(kinds(second.events)).toEqual(['thread.item.done:workflow', ...MESSAGE_SEQUENCE(3)]);
    expect(second.events[0]).toMatchObject({
      item: { id: workflowId, workflow: { summary: { duration: expect.any(Number) } } },
    });
    const body = JSON.stringify(fake.requests[2].body);
    expect(body).toContain('call_pick');
    expect(body).toContain('{\\"color\\":\\"blue\\"}');
  });

  it('turns citations into annotations as they stream', async () => {
    const { service } = setup({ api });
    const conversation = new Conversation();
    const input = conversation.user('Where are the docs?');
    fake.enqueue(
      modelTurn([
        {
          type: 'message',
          text: 'See the docs and the terms.',
          annotations: [
            urlCitation({ url: 'https://docs.test/a', title: 'Docs', startIndex: 4, endIndex: 12 }),
            fileCitation({ fileId: 'file_1', filename: 'terms.pdf', index: 26 }),
          ],
        },
      ]),
    );

    const { events, error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    const url = {
      type: 'annotation',
      source: { type: 'url', url: 'https://docs.test/a', title: 'Docs' },
      index: 12,
    };
    const file = {
      type: 'annotation',
      source: { type: 'file', filename: 'terms.pdf', title: 'terms.pdf' },
      index: 26,
    };
    // Chat Completions only knows URL citations.
    const expected = api === 'responses' ? [url, file] : [url];
    const added = events.flatMap((e) =>
      e.type === 'thread.item.updated' && e.update.type === 'assistant_message.content_part.annotation_added'
        ? [e.update]
        : [],
    );
    expect(added).toEqual(
      expected.map((annotation, i) => ({
        type: 'assistant_message.content_part.annotation_added',
        content_index: 0,
        annotation_index: i,
        annotation,
      })),
    );
    const done = events.at(-1) as { item: AssistantMessageItem };
    expect(done.item.content).toEqual([
      { type: 'output_text', text: 'See the docs and the terms.', annotations: expected },
    ]);
    expect(events.at(-2)).toMatchObject({
      update: { type: 'assistant_message.content_part.done', content: { annotations: expected } },
    });
  });

  it('adds the citations a tool recognises in the finished answer to those the model streamed', async () => {
    const { service, tools } = setup({ api });
    tools.register({
      name: 'search_knowledge_base',
      description: 'Search the knowledge base.',
      parameters: z.object({ query: z.string() }),
      execute: () => JSON.stringify({ results: [{ ref: 1, title: 'Refund policy', source: 'refunds.md' }] }),
      annotate: (answer, outputs) => {
        const refs = new Map<number, string>();
        for (const o of outputs) {
          for (const r of (JSON.parse(String(o)) as { results: Array<{ ref: number; title: string }> })
            .results) {
            refs.set(r.ref, r.title);
          }
        }
        return [...answer.matchAll(/\[(\d+)\]/g)].flatMap((m) => {
          const title = refs.get(Number(m[1]));
          return title
            ? [
                {
                  type: 'annotation' as const,
                  source: { type: 'file' as const, filename: 'refunds.md', title },
                  index: m.index + m[0].length,
                },
              ]
            : [];
        });
      },
    });
    const conversation = new Conversation();
    const input = conversation.user('How long do refunds take?');
    const answer = 'Refunds take 5 days [1], see the FAQ [2].';
    fake.enqueue(
      toolCallTurn('search_knowledge_base', { query: 'refunds' }),
      modelTurn([
        {
          type: 'message',
          text: answer,
          annotations: [urlCitation({ url: 'https://faq.test', title: 'FAQ', startIndex: 30, endIndex: 37 })],
        },
      ]),
    );

    const { events, error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    const url = {
      type: 'annotation',
      source: { type: 'url', url: 'https://faq.test', title: 'FAQ' },
      index: 37,
    };
    const file = {
      type: 'annotation',
      source: { type: 'file', filename: 'refunds.md', title: 'Refund policy' },
      index: answer.indexOf('[1]') + 3,
    };
    expect(kinds(events).slice(-4)).toEqual([
      'updated:assistant_message.content_part.annotation_added',
      'updated:assistant_message.content_part.annotation_added',
      'updated:assistant_message.content_part.done',
      'thread.item.done:assistant_message',
    ]);
    expect(events.at(-3)).toMatchObject({ update: { annotation_index: 1, annotation: file } });
    expect(events.at(-2)).toMatchObject({ update: { content: { annotations: [url, file] } } });
    expect((events.at(-1) as { item: AssistantMessageItem }).item.content).toEqual([
      { type: 'output_text', text: answer, annotations: [url, file] },
    ]);
  });

  it('lets the client retry a 429 before the first token', async () => {
    const { service } = setup({ api });
    const conversation = new Conversation();
    const input = conversation.user('Hi');
    fake.enqueue(errorTurn(429), textTurn('after the rate limit'));

    const { events, error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    expect(text(events)).toBe('after the rate limit');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it.each([
    {
      failure: 'a dropped connection',
      turn: dropConnectionAfter(2, textTurn('one two three four')),
      kind: 'connection',
    },
    {
      failure: 'an in-stream server error',
      turn: streamErrorAfter(2, textTurn('one two three four')),
      kind: 'server_error',
    },
  ])('throws after the partial deltas on $failure, without retrying', async ({ turn, kind }) => {
    const { service, metrics } = setup({ api });
    const conversation = new Conversation();
    const input = conversation.user('Hi');
    fake.enqueue(turn, textTurn('a retry would get this'));

    const { events, error } = await run(service, conversation, input);

    // fetch errors come from another realm in jest, so no instanceof here.
    expect(error).toMatchObject({ message: expect.any(String) });
    expect(text(events)).toBe('one two');
    expect(events.some((e) => e.type === 'thread.item.done')).toBe(false);
    expect(fake.requests).toHaveLength(1);
    const errors = await metrics.registry.getSingleMetric('test_agent_model_errors_total')!.get();
    expect(errors.values).toEqual([{ labels: { model: 'gpt-test', kind }, value: 1 }]);
  });

  it('gives up after the retries when the server keeps failing before the first byte', async () => {
    const { service } = setup({ api, maxRetries: 1 });
    const conversation = new Conversation();
    const input = conversation.user('Hi');
    fake.enqueue(errorTurn(500, { retryAfterMs: 5 }), errorTurn(500, { retryAfterMs: 5 }));

    const { events, error } = await run(service, conversation, input);

    expect(events).toEqual([]);
    expect(error).toMatchObject({ status: 500 });
    expect(fake.requests.map((r) => r.status)).toEqual([500, 500]);
  });

  it('closes the model request when the signal aborts mid-answer, and ends quietly', async () => {
    const { service } = setup({ api });
    const conversation = new Conversation();
    conversation.thread.title = undefined;
    const input = conversation.user('Hi');
    fake.enqueue(stallAfter(2, textTurn('one two three four')));
    const controller = new AbortController();

    const events: ThreadStreamEvent[] = [];
    for await (const event of service.respond(
      conversation.thread,
      input,
      conversation.context,
      controller.signal,
    )) {
      events.push(event);
      if (text(events) === 'one two') controller.abort();
    }

    const request = await fake.waitForClientClose(0);
    expect(request.deltasWritten).toBe(2);
    expect(text(events)).toBe('one two');
    expect(kinds(events).at(-1)).toBe('updated:assistant_message.content_part.text_delta');
    // No title call after an aborted answer.
    expect(fake.requests).toHaveLength(1);
    expect(conversation.thread.title).toBeUndefined();
  });

  it('closes the model request when the consumer stops reading', async () => {
    const { service } = setup({ api });
    const conversation = new Conversation();
    const input = conversation.user('Hi');
    fake.enqueue(stallAfter(2, textTurn('one two three four')));

    const seen: string[] = [];
    for await (const event of service.respond(
      conversation.thread,
      input,
      conversation.context,
      new AbortController().signal,
    )) {
      seen.push(event.type);
      if (seen.length === 3) break;
    }

    await expect(fake.waitForClientClose(0)).resolves.toMatchObject({ clientClosed: true });
  });

  it('sends the previous turns and the user and page context to the model', async () => {
    const { service } = setup({ api, instructions: 'You are the ACME assistant.' });
    const conversation = new Conversation({
      user: { name: 'Ada', plan: 'pro' },
      page: { url: 'https://shop.test/cart', title: 'Cart' },
    });
    conversation.user('My name is Ada.');
    fake.enqueue(textTurn('Nice to meet you, Ada.'));
    conversation.persist((await run(service, conversation, conversation.items[0] as UserMessageItem)).events);
    const input = conversation.user('What is my name?');
    fake.enqueue(textTurn('Your name is Ada.'));

    const { error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    const body = fake.requests[1].body as Record<string, unknown>;
    const pageContext = expect.stringMatching(
      /<page_context>[^]*url: https:\/\/shop\.test\/cart[^]*<\/page_context>/,
    );
    const userContext = expect.stringMatching(/<user_context>[^]*name: Ada\nplan: pro[^]*<\/user_context>/);
    if (api === 'responses') {
      expect(body.instructions).toEqual(expect.stringMatching(/^You are the ACME assistant\./));
      expect(body.instructions).toEqual(pageContext);
      expect(body.instructions).toEqual(userContext);
      expect(body.input).toMatchObject([
        { role: 'user', content: [{ type: 'input_text', text: 'My name is Ada.' }] },
        { role: 'assistant', content: [{ type: 'output_text', text: 'Nice to meet you, Ada.' }] },
        { role: 'user', content: [{ type: 'input_text', text: 'What is my name?' }] },
      ]);
    } else {
      const messages = body.messages as Array<Record<string, unknown>>;
      expect(messages[0]).toEqual({
        role: 'system',
        content: expect.stringMatching(/^You are the ACME assistant\./),
      });
      expect(messages[0].content).toEqual(pageContext);
      expect(messages[0].content).toEqual(userContext);
      expect(messages.slice(1)).toMatchObject([
        { role: 'user', content: [{ type: 'text', text: 'My name is Ada.' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Nice to meet you, Ada.' }] },
        { role: 'user', content: [{ type: 'text', text: 'What is my name?' }] },
      ]);
    }
  });

  it('names an untitled thread after its first answer with a short model call', async () => {
    const { service } = setup({ api });
    const conversation = new Conversation();
    conversation.thread.title = undefined;
    const input = conversation.user('How long do refunds take for orders paid by card?');
    fake.enqueue(textTurn('About 5 days.'), textTurn('"Refund timing for card payments."'));

    const { error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    expect(conversation.thread.title).toBe('Refund timing for card payments');
    const titleRequest = fake.requests[1];
    expect(titleRequest.stream).toBe(false);
    expect(titleRequest.body).toMatchObject({ model: 'gpt-title' });
    expect(JSON.stringify(titleRequest.body)).toContain('How long do refunds take');
  });
});

describe('AgentService over the Responses API only', () => {
  it('turns a reasoning summary into a reasoning workflow of thought tasks', async () => {
    const { service } = setup();
    const conversation = new Conversation();
    const input = conversation.user('Can I get a refund?');
    fake.enqueue(reasoningTurn(['Check the refund rules', 'Card payments differ'], 'Yes, within 30 days.'));

    const { events, error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    const workflowEvents = events.slice(0, events.findIndex((e) => e.type === 'thread.item.done') + 1);
    expect(kinds(workflowEvents)).toEqual([
      'thread.item.added:workflow',
      // One task per summary part: added with the first delta, updated per delta and once when done.
      'updated:workflow.task.added',
      ...Array(4).fill('updated:workflow.task.updated'),
      'updated:workflow.task.added',
      ...Array(3).fill('updated:workflow.task.updated'),
      'thread.item.done:workflow',
    ]);
    expect(workflowEvents[0]).toMatchObject({ item: { workflow: { type: 'reasoning', tasks: [] } } });
    expect(workflowEvents.at(-1)).toMatchObject({
      item: {
        workflow: {
          type: 'reasoning',
          tasks: [
            { type: 'thought', content: 'Check the refund rules', status_indicator: 'none' },
            { type: 'thought', content: 'Card payments differ', status_indicator: 'none' },
          ],
          summary: { duration: expect.any(Number) },
          expanded: false,
        },
      },
    });
    expect(kinds(events.slice(workflowEvents.length))).toEqual(MESSAGE_SEQUENCE(4));
    // Reasoning is never replayed to the model as a task.
    conversation.persist(events);
    fake.enqueue(textTurn('ok'));
    await run(service, conversation, conversation.user('thanks'));
    expect(JSON.stringify(fake.requests[1].body)).not.toContain('Check the refund rules');
  });

  it('falls back to the first words of the question when the title call fails', async () => {
    const { service } = setup();
    const conversation = new Conversation();
    conversation.thread.title = undefined;
    const input = conversation.user('Please explain how the annual subscription renewal works for teams');
    fake.enqueue(textTurn('It renews yearly.'), errorTurn(400));

    const { error } = await run(service, conversation, input);

    expect(error).toBeUndefined();
    expect(conversation.thread.title).toBe('Please explain how the annual subscription renewal works…');
  });

  it('records run duration, time to first token and tokens by model', async () => {
    const { service, metrics } = setup();
    const conversation = new Conversation();
    fake.enqueue(textTurn('Hello', { usage: { inputTokens: 12, outputTokens: 3 } }));

    await run(service, conversation, conversation.user('Hi'));

    const value = async (name: string) =>
      (await metrics.registry.getSingleMetric(`test_${name}`)!.get()).values;
    expect(await value('agent_tokens_total')).toEqual(
      expect.arrayContaining([
        { labels: { model: 'gpt-test', direction: 'input' }, value: 12 },
        { labels: { model: 'gpt-test', direction: 'output' }, value: 3 },
      ]),
    );
    expect(await value('agent_run_duration_seconds')).toContainEqual(
      expect.objectContaining({
        labels: { model: 'gpt-test', outcome: 'completed' },
        metricName: 'test_agent_run_duration_seconds_count',
        value: 1,
      }),
    );
    expect(await value('agent_time_to_first_token_seconds')).toContainEqual(
      expect.objectContaining({
        labels: { model: 'gpt-test' },
        metricName: 'test_agent_time_to_first_token_seconds_count',
        value: 1,
      }),
    );
  });
});

describe('AgentService.transcribe', () => {
  it('transcribes audio with the configured model', async () => {
    const { service } = setup({ transcribeModel: 'gpt-4o-mini-transcribe' });
    fake.enqueueTranscription(transcriptionTurn('  hello from the microphone '));

    const text = await service.transcribe(Buffer.from('fake webm bytes'), 'audio/webm;codecs=opus');

    expect(text).toBe('hello from the microphone');
    expect(fake.requests[0].body).toMatchObject({ model: 'gpt-4o-mini-transcribe' });
    expect(fake.requests[0].files).toEqual([
      { field: 'file', filename: 'dictation.webm', contentType: 'audio/webm', size: 15 },
    ]);
  });

  it('answers 501 when no transcription model is configured', async () => {
    const { service } = setup();
    const failure = await service.transcribe(Buffer.from('x'), 'audio/webm').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AppException);
    expect((failure as AppException).status).toBe(501);
    expect(fake.requests).toHaveLength(0);
  });
});

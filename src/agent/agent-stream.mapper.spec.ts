import OpenAI from 'openai';
import {
  Agent,
  OpenAIProvider,
  OutputGuardrailTripwireTriggered,
  Runner,
  setTraceProcessors,
  setTracingDisabled,
  tool,
} from '@openai/agents';
import type { RunStreamEvent } from '@openai/agents';
import { z } from 'zod';
import {
  convertAnnotation,
  describeToolArguments,
  mapAgentStream,
  tokenDetail,
  type AgentRunStream,
  type StreamMapperOptions,
} from 'src/agent/agent-stream.mapper';
import { cleanTitle, fallbackTitle } from 'src/agent/thread-title';
import { messageAfter } from 'src/chatkit/assistant-message.builder';
import type { ThreadStreamEvent } from 'src/protocol/chatkit.schemas';
import { FakeOpenAI, textTurn, toolCallTurn } from 'test/support/fake-openai';

let fake: FakeOpenAI;
beforeAll(async () => {
  setTraceProcessors([]);
  setTracingDisabled(true);
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

function mapperOptions(): StreamMapperOptions {
  let ids = 0;
  let tick = 0;
  return {
    threadId: 'thr_1',
    context: {
      generateId: (kind) => `${kind}_${++ids}`,
      now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, ++tick)).toISOString(),
      saveItem: () => Promise.resolve(),
    },
    isClientTool: () => false,
    toolDisplay: (name) => ({ progress: `Using ${name}…`, title: `Used ${name}`, icon: 'bolt' }),
  };
}

async function drain(
  stream: AsyncGenerator<ThreadStreamEvent, unknown>,
): Promise<{ events: ThreadStreamEvent[]; error?: unknown }> {
  const events: ThreadStreamEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events };
  } catch (error) {
    return { events, error };
  }
}

/** A finished run made of the given SDK events, for paths the fake server cannot produce. */
function scripted(events: unknown[]): AgentRunStream {
  return {
    cancelled: false,
    error: undefined,
    async *[Symbol.asyncIterator]() {
      for (const event of events) yield event as RunStreamEvent;
    },
  };
}

const blockEverything = {
  name: 'block everything',
  execute: () => Promise.resolve({ tripwireTriggered: true, outputInfo: { reason: 'test' } }),
};

describe('mapAgentStream and guardrails', () => {
  const runner = (): Runner =>
    new Runner({
      modelProvider: new OpenAIProvider({
        openAIClient: new OpenAI({ apiKey: 'test', baseURL: fake.baseURL, maxRetries: 0 }),
        useResponses: true,
      }),
      tracingDisabled: true,
    });

  it('retracts the streamed answer when an output guardrail trips, then rethrows', async () => {
    const agent = new Agent({ name: 'A', model: 'gpt-test', outputGuardrails: [blockEverything] });
    fake.enqueue(textTurn('Something forbidden'));

    const result = await runner().run(agent, 'hi', { stream: true });
    const { events, error } = await drain(mapAgentStream(result, mapperOptions()));

    expect(error).toBeInstanceOf(OutputGuardrailTripwireTriggered);
    const added = events.find((e) => e.type === 'thread.item.added');
    const id = added?.type === 'thread.item.added' ? added.item.id : 'missing';
    expect(events.map((e) => e.type).slice(-2)).toEqual(['thread.item.done', 'thread.item.removed']);
    expect(events.at(-1)).toEqual({ type: 'thread.item.removed', item_id: id });
  });

  it('retracts every item of the run, tool workflow included', async () => {
    const lookup = tool({
      name: 'lookup',
      description: 'Look something up.',
      parameters: z.object({ q: z.string() }),
      execute: () => 'found',
    });
    const agent = new Agent({
      name: 'A',
      model: 'gpt-test',
      tools: [lookup],
      outputGuardrails: [blockEverything],
    });
    fake.enqueue(toolCallTurn('lookup', { q: 'x' }), textTurn('Done.'));

    const result = await runner().run(agent, 'hi', { stream: true });
    const { events, error } = await drain(mapAgentStream(result, mapperOptions()));

    expect(error).toBeInstanceOf(OutputGuardrailTripwireTriggered);
    const created = events.flatMap((e) => (e.type === 'thread.item.added' ? [e.item.id] : []));
    expect(created).toEqual(['workflow_1', expect.stringMatching(/^msg_fake/)]);
    expect(events.filter((e) => e.type === 'thread.item.removed')).toEqual(
      created.map((item_id) => ({ type: 'thread.item.removed', item_id })),
    );
  });
});

describe('mapAgentStream with scripted SDK events', () => {
  const chat = (delta: Record<string, unknown>) => ({
    type: 'raw_model_stream_event',
    source: 'openai-chat-completions',
    data: {
      type: 'model',
      event: { id: 'chatcmpl_1', choices: [{ index: 0, delta }] },
      providerData: { rawModelEventSource: 'openai-chat-completions' },
    },
  });
  const textDelta = (delta: string) => ({
    type: 'raw_model_stream_event',
    data: { type: 'output_text_delta', delta, itemId: 'chatcmpl_1' },
  });
  const done = {
    type: 'raw_model_stream_event',
    data: {
      type: 'response_done',
      response: { id: 'chatcmpl_1', output: [], usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 } },
    },
  };
  const citation = {
    type: 'url_citation',
    url_citation: { url: 'https://a.test', title: 'A', start_index: 0, end_index: 2 },
  };

  it('holds Chat Completions citations that arrive before the text until the message exists', async () => {
    const usage: unknown[] = [];
    const options = { ...mapperOptions(), onUsage: (u: unknown) => void usage.push(u) };
    const { events, error } = await drain(
      mapAgentStream(
        scripted([
          chat({ role: 'assistant', content: 'Hi', annotations: [citation] }),
          textDelta('Hi'),
          chat({ annotations: [citation] }),
          done,
        ]),
        options,
      ),
    );

    expect(error).toBeUndefined();
    const annotation = {
      type: 'annotation',
      source: { type: 'url', url: 'https://a.test', title: 'A' },
      index: 2,
    };
    expect(events.map((e) => (e.type === 'thread.item.updated' ? e.update.type : e.type))).toEqual([
      'thread.item.added',
      'assistant_message.content_part.added',
      'assistant_message.content_part.annotation_added',
      'assistant_message.content_part.text_delta',
      'assistant_message.content_part.done',
      'thread.item.done',
    ]);
    expect(events.at(-1)).toMatchObject({
      item: { id: 'message_1', content: [{ text: 'Hi', annotations: [annotation] }] },
    });
    expect(usage).toEqual([
      { inputTokens: 1, outputTokens: 2, totalTokens: 3, cachedInputTokens: 0, reasoningTokens: 0 },
    ]);
  });

  it('builds the message in one place: each event says what the message is once it is applied', async () => {
    const { events } = await drain(
      mapAgentStream(scripted([textDelta('Hel'), textDelta('lo'), done]), mapperOptions()),
    );
    // Until the part is done, the message is exactly what the deltas so far add up to.
    expect(events.slice(1, 4).map((e) => messageAfter(e)?.content)).toEqual([
      [{ type: 'output_text', text: '', annotations: [] }],
      [{ type: 'output_text', text: 'Hel', annotations: [] }],
      [{ type: 'output_text', text: 'Hello', annotations: [] }],
    ]);
    expect(messageAfter(events[3])).toEqual({
      ...(events[0] as { item: object }).item,
      content: [{ type: 'output_text', text: 'Hello', annotations: [] }],
    });
  });

  it('shows a Responses refusal as the message text', async () => {
    const raw = (event: Record<string, unknown>) => ({
      type: 'raw_model_stream_event',
      source: 'openai-responses',
      data: { type: 'model', event, providerData: { rawModelEventSource: 'openai-responses' } },
    });
    const common = { item_id: 'msg_r', output_index: 0, content_index: 0 };
    const { events } = await drain(
      mapAgentStream(
        scripted([
          raw({
            type: 'response.output_item.added',
            item: { id: 'msg_r', type: 'message', role: 'assistant', content: [] },
          }),
          raw({ type: 'response.content_part.added', ...common, part: { type: 'refusal', refusal: '' } }),
          raw({ type: 'response.refusal.delta', ...common, delta: 'I cannot help' }),
          raw({ type: 'response.refusal.done', ...common, refusal: 'I cannot help with that.' }),
          raw({
            type: 'response.output_item.done',
            item: {
              id: 'msg_r',
              type: 'message',
              role: 'assistant',
              content: [{ type: 'refusal', refusal: 'I cannot help with that.' }],
            },
          }),
        ]),
        mapperOptions(),
      ),
    );
    expect(events.at(-2)).toMatchObject({
      update: { type: 'assistant_message.content_part.done', content: { text: 'I cannot help with that.' } },
    });
    expect(events.at(-1)).toMatchObject({
      item: {
        id: 'msg_r',
        content: [{ type: 'output_text', text: 'I cannot help with that.', annotations: [] }],
      },
    });
  });

  it('stamps new items strictly after each other and after the newest stored item, even on a frozen clock', async () => {
    const raw = (event: Record<string, unknown>) => ({
      type: 'raw_model_stream_event',
      source: 'openai-responses',
      data: { type: 'model', event, providerData: { rawModelEventSource: 'openai-responses' } },
    });
    const frozen = '2026-01-01T00:00:00.000Z';
    const options = mapperOptions();
    options.context.now = () => frozen;
    options.notBefore = frozen;
    const { events } = await drain(
      mapAgentStream(
        scripted([
          raw({ type: 'response.output_item.added', item: { id: 'rs_1', type: 'reasoning', summary: [] } }),
          raw({
            type: 'response.output_item.added',
            item: { id: 'msg_1', type: 'message', role: 'assistant', content: [] },
          }),
        ]),
        options,
      ),
    );
    const stamps = events.flatMap((e) => (e.type === 'thread.item.added' ? [e.item.created_at] : []));
    expect(stamps).toEqual(['2026-01-01T00:00:00.001Z', '2026-01-01T00:00:00.002Z']);
  });

  it('ends quietly with no further events when the run was cancelled', async () => {
    const run: AgentRunStream = { ...scripted([textDelta('par')]), cancelled: true };
    const stream = mapAgentStream(run, mapperOptions());
    const { events, error } = await drain(stream);
    expect(error).toBeUndefined();
    expect(events.map((e) => e.type)).toEqual([
      'thread.item.added',
      'thread.item.updated',
      'thread.item.updated',
    ]);
  });
});

describe('convertAnnotation', () => {
  it('maps URL, file and container-file citations, and drops what has no source', () => {
    expect(
      convertAnnotation({ type: 'url_citation', url: 'https://u', title: 'U', start_index: 1, end_index: 5 }),
    ).toEqual({
      type: 'annotation',
      source: { type: 'url', url: 'https://u', title: 'U' },
      index: 5,
    });
    expect(convertAnnotation({ type: 'file_citation', file_id: 'f', filename: 'a.pdf', index: 3 })).toEqual({
      type: 'annotation',
      source: { type: 'file', filename: 'a.pdf', title: 'a.pdf' },
      index: 3,
    });
    expect(
      convertAnnotation({
        type: 'container_file_citation',
        filename: 'b.csv',
        start_index: 0,
        end_index: 9,
        container_id: 'c',
        file_id: 'f',
      }),
    ).toMatchObject({ source: { type: 'file', filename: 'b.csv' }, index: 9 });
    expect(
      convertAnnotation({ type: 'file_citation', file_id: 'f', filename: '', index: 3 }),
    ).toBeUndefined();
    expect(convertAnnotation({ type: 'file_path', file_id: 'f', index: 0 })).toBeUndefined();
    expect(
      convertAnnotation({
        type: 'url_citation',
        url_citation: { url: 'https://c', title: '', end_index: 2 },
      }),
    ).toEqual({
      type: 'annotation',
      source: { type: 'url', url: 'https://c', title: 'https://c' },
      index: 2,
    });
  });
});

describe('describeToolArguments', () => {
  it('renders JSON objects as key: value pairs and cuts long text', () => {
    expect(describeToolArguments('{"query":"refunds","limit":3,"tags":["a"]}')).toBe(
      'query: refunds; limit: 3; tags: ["a"]',
    );
    expect(describeToolArguments('not json')).toBe('not json');
    const long = describeToolArguments(JSON.stringify({ q: 'x'.repeat(500) }), 50);
    expect(long).toHaveLength(50);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('thread titles', () => {
  it('cleans what the model returned down to one short line', () => {
    expect(cleanTitle('"Refund policy overview."')).toBe('Refund policy overview');
    expect(cleanTitle('\n\nTitle: **Card refunds**\nExtra line')).toBe('Card refunds');
    expect(cleanTitle('# One two three four five six seven eight nine ten')).toBe(
      'One two three four five six seven eight',
    );
    expect(cleanTitle('  \n ')).toBe('');
  });

  it('falls back to the first words of the question', () => {
    expect(fallbackTitle('  Where is   my order? ')).toBe('Where is my order?');
    expect(fallbackTitle('one two three four five six seven eight nine')).toBe(
      'one two three four five six seven eight…',
    );
    expect(fallbackTitle('')).toBe('New conversation');
  });
});

describe('tokenDetail', () => {
  it('reads a count from one response’s details, or sums it over merged ones', () => {
    expect(tokenDetail({ cached_tokens: 40 }, 'cached_tokens')).toBe(40);
    expect(tokenDetail([{ reasoning_tokens: 5 }, { reasoning_tokens: 7 }, {}], 'reasoning_tokens')).toBe(12);
    // A server that does not break the tokens down: none of that kind.
    expect(tokenDetail(undefined, 'cached_tokens')).toBe(0);
    expect(tokenDetail({ cached_tokens: 'many' }, 'cached_tokens')).toBe(0);
  });
});

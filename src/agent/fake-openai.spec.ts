/**
 * Proves that the fake OpenAI server (test/support/fake-openai) speaks the API well enough for
 * the real `openai` client and the OpenAI Agents SDK, over real HTTP on loopback, and pins down
 * the SDK behaviour the agent bridge relies on. Nothing here may reach beyond 127.0.0.1.
 *
 * What `Runner.run(agent, input, { stream: true, signal })` yields (Agents SDK 0.20, openai 7):
 *
 * - `RunRawModelStreamEvent` — `{ type: 'raw_model_stream_event', source, data }`, where
 *   `data.type` is one of
 *     - `'response_started'`: `{ providerData }` = the `response.created` event (Responses) or
 *       the first chunk (Chat Completions); `source` undefined.
 *     - `'output_text_delta'`: `{ delta, itemId, providerData }` — the normalised text delta.
 *       Responses: `itemId` is the message item id (`msg_…`) and providerData is the raw
 *       `response.output_text.delta` minus `delta` (item_id, output_index, content_index,
 *       sequence_number). Chat Completions: `itemId` is the completion id (`chatcmpl…`).
 *       It arrives just before the matching raw `model` event (Responses) or just after it
 *       (Chat Completions); `source` undefined.
 *     - `'model'`: `{ event, providerData: { rawModelEventSource } }` with `source` set to
 *       `'openai-responses'` (event = the raw Responses stream event, typed
 *       `ResponseStreamEvent`; narrow with `isOpenAIResponsesRawModelStreamEvent`) or
 *       `'openai-chat-completions'` (event = the raw `ChatCompletionChunk`;
 *       `isOpenAIChatCompletionsRawModelStreamEvent`). Every wire event is forwarded, including
 *       response.output_item.added/done, content_part.added/done, output_text.delta/done,
 *       output_text.annotation.added, reasoning_summary_part.*, reasoning_summary_text.*,
 *       function_call_arguments.*, response.created/in_progress/completed.
 *     - `'response_done'`: `{ response: { id, requestId, output, usage } }` after the terminal
 *       event; `usage` is camelCase `{ inputTokens, outputTokens, totalTokens, ... }`.
 * - `RunItemStreamEvent` — `{ type: 'run_item_stream_event', name, item }`, after the model
 *   response is complete: `reasoning_item_created` (Responses only), `message_output_created`,
 *   `tool_called` (item.rawItem = `{ type: 'function_call', callId, name, arguments, id }`),
 *   `tool_output` (item.output = the tool's return value, rawItem.type =
 *   'function_call_result'), plus handoff/approval names we do not use.
 * - `RunAgentUpdatedStreamEvent` — `{ type: 'agent_updated_stream_event', agent }`, only on a
 *   handoff; there is none for the starting agent.
 *
 * Order within one model call (Responses): response_started, then the raw `model` events with
 * `output_text_delta` interleaved, then `response_done`, then the raw `response.completed`
 * `model` event, and only then the run items of that call.
 *
 * Aborting `signal` ends the `for await` loop quietly (no throw), `result.cancelled` becomes
 * true, `result.completed` resolves, and the HTTP request to the model is torn down.
 * Usage after the run: `result.runContext.usage` (`requests`, `inputTokens`, `outputTokens`,
 * `totalTokens`, summed over every model call of the run).
 */
import OpenAI, { APIError, toFile } from 'openai';
import {
  Agent,
  OpenAIProvider,
  Runner,
  addTraceProcessor,
  isOpenAIResponsesRawModelStreamEvent,
  setTraceProcessors,
  setTracingDisabled,
  tool,
} from '@openai/agents';
import type { AgentInputItem, RunStreamEvent, TracingProcessor } from '@openai/agents';
import { z } from 'zod';
import {
  FakeOpenAI,
  cosineSimilarity,
  dropConnectionAfter,
  errorTurn,
  fakeEmbedding,
  modelTurn,
  reasoningTurn,
  stallAfter,
  streamErrorAfter,
  textTurn,
  toolCallTurn,
  transcriptionTurn,
  urlCitation,
} from 'test/support/fake-openai';

const fetchedUrls: string[] = [];
const realFetch = globalThis.fetch;

let fake: FakeOpenAI;

beforeAll(async () => {
  // Importing @openai/agents installs an exporter that would post traces to api.openai.com.
  // Replacing the processors and disabling tracing globally keeps every run offline even when a
  // Runner forgets `tracingDisabled: true`.
  setTraceProcessors([]);
  setTracingDisabled(true);
  globalThis.fetch = (input, init) => {
    fetchedUrls.push(input instanceof Request ? input.url : String(input));
    return realFetch(input, init);
  };
  fake = await FakeOpenAI.start();
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  await fake.close();
  // The client probes `fetch('data:,')` when building multipart bodies; that never leaves the process.
  const network = fetchedUrls.filter((url) => !url.startsWith('data:'));
  expect(network.length).toBeGreaterThan(0);
  expect(network.filter((url) => !url.startsWith('http://127.0.0.1:'))).toEqual([]);
});

beforeEach(() => fake.reset());

function client(maxRetries = 0): OpenAI {
  return new OpenAI({ apiKey: 'test', baseURL: fake.baseURL, maxRetries });
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

describe('FakeOpenAI with the plain openai client', () => {
  it('streams a Responses turn with reasoning, a citation and usage in the real event order', async () => {
    fake.enqueue(
      modelTurn(
        [
          { type: 'reasoning', summary: ['Plan it'] },
          {
            type: 'message',
            text: 'See docs.',
            annotations: [
              urlCitation({ url: 'https://example.com/d', title: 'Docs', startIndex: 4, endIndex: 8 }),
            ],
          },
        ],
        { usage: { inputTokens: 20, outputTokens: 6, reasoningTokens: 2 } },
      ),
    );

    const events = await collect(
      await client().responses.create({ model: 'gpt-test', input: 'hello', stream: true }),
    );

    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.annotation.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
    expect(text).toBe('See docs.');
    const annotation = events.find((e) => e.type === 'response.output_text.annotation.added');
    expect(annotation).toMatchObject({ output_index: 1, content_index: 0, annotation_index: 0 });
    const completed = events[events.length - 1];
    if (completed.type !== 'response.completed')
      throw new Error('stream did not end with response.completed');
    expect(completed.response.usage).toMatchObject({
      input_tokens: 20,
      output_tokens: 6,
      total_tokens: 26,
      output_tokens_details: { reasoning_tokens: 2 },
    });
    expect(fake.requests[0]).toMatchObject({ path: '/v1/responses', stream: true, status: 200 });
    expect(fake.requests[0].body).toMatchObject({ model: 'gpt-test', input: 'hello', stream: true });
    expect(fake.requests[0].headers.authorization).toBe('Bearer test');
  });

  it('satisfies the client-side accumulators of both streaming helpers', async () => {
    fake.enqueue(textTurn('Accumulated answer'), toolCallTurn('lookup', { id: 42 }, { callId: 'call_x' }));
    const openai = client();

    const responseStream = openai.responses.stream({ model: 'gpt-test', input: 'hi' });
    expect((await responseStream.finalResponse()).output_text).toBe('Accumulated answer');

    const chatStream = openai.chat.completions.stream({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      stream_options: { include_usage: true },
    });
    const completion = await chatStream.finalChatCompletion();
    expect(completion.choices[0].finish_reason).toBe('tool_calls');
    expect(completion.choices[0].message.tool_calls).toEqual([
      { id: 'call_x', type: 'function', function: { name: 'lookup', arguments: '{"id":42}' } },
    ]);
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('streams Chat Completions chunks with tool-call deltas, a usage chunk and [DONE]', async () => {
    fake.enqueue(
      toolCallTurn('search_knowledge_base', { query: 'refund policy' }, { usage: { inputTokens: 9 } }),
    );

    const chunks = await collect(
      await client().chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'refunds?' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );

    const args = chunks
      .flatMap((c) => c.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
      .map((call) => call.function?.arguments ?? '')
      .join('');
    expect(JSON.parse(args)).toEqual({ query: 'refund policy' });
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 9 } });
  });

  it('answers non-streaming Responses and Chat Completions requests', async () => {
    fake.enqueue(
      textTurn('Plain JSON'),
      textTurn('Chat JSON', { usage: { inputTokens: 3, outputTokens: 2 } }),
    );
    const openai = client();

    const response = await openai.responses.create({ model: 'gpt-test', input: 'hi' });
    expect(response.output_text).toBe('Plain JSON');
    expect(response.status).toBe('completed');

    const completion = await openai.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.choices[0].message.content).toBe('Chat JSON');
    expect(completion.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
  });

  it('records when the first delta was written, for time-to-first-token measurements', async () => {
    fake.enqueue(textTurn('slow start', { deltaDelayMs: 40 }));
    await collect(await client().responses.create({ model: 'gpt-test', input: 'hi', stream: true }));
    const [request] = fake.requests;
    expect(request.firstDeltaAt).toBeDefined();
    expect(request.firstDeltaAt! - request.receivedAt).toBeGreaterThanOrEqual(35);
    expect(request.completedAt).toBeGreaterThanOrEqual(request.firstDeltaAt!);
    expect(request.clientClosed).toBe(false);
  });

  it('drops the connection after N deltas and the client sees exactly those deltas, then an error', async () => {
    fake.enqueue(dropConnectionAfter(2, textTurn('one two three four')));
    const received: string[] = [];
    const consume = async (): Promise<void> => {
      const stream = await client().responses.create({ model: 'gpt-test', input: 'hi', stream: true });
      for await (const event of stream)
        if (event.type === 'response.output_text.delta') received.push(event.delta);
    };

    await expect(consume()).rejects.toThrow();
    expect(received).toEqual(['one', ' two']);
    expect(fake.requests[0]).toMatchObject({ serverDestroyed: true, clientClosed: false, deltasWritten: 2 });
  });

  it('turns a scripted in-stream error into an APIError on both APIs', async () => {
    fake.enqueue(
      streamErrorAfter(1, textTurn('partial answer'), 'upstream exploded'),
      streamErrorAfter(1, textTurn('partial answer'), 'chat exploded'),
    );
    const openai = client();
    await expect(
      collect(await openai.responses.create({ model: 'gpt-test', input: 'hi', stream: true })),
    ).rejects.toThrow(/upstream exploded/);
    await expect(
      collect(
        await openai.chat.completions.create({
          model: 'gpt-test',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        }),
      ),
    ).rejects.toThrow(/chat exploded/);
  });

  it('refuses an unscripted model request loudly', async () => {
    const failure = await client()
      .responses.create({ model: 'gpt-test', input: 'hi' })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).status).toBe(500);
    expect((failure as APIError).message).toMatch(/no scripted model turn/);
  });

  it('computes deterministic embeddings where shared words score closer', async () => {
    const texts = ['The cat sat on the mat', 'A cat on a mat', 'Quarterly revenue report'];
    const result = await client().embeddings.create({ model: 'text-embedding-3-small', input: texts });

    // The client asks for base64 by default and decodes it; the fake must honour that.
    expect(fake.requests[0].body).toMatchObject({ encoding_format: 'base64' });
    const vectors = result.data.map((d) => d.embedding);
    expect(vectors.map((v) => v.length)).toEqual([64, 64, 64]);
    vectors.forEach((v, i) => {
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
      fakeEmbedding(texts[i], 64).forEach((x, j) => expect(v[j]).toBeCloseTo(x, 5));
    });
    expect(cosineSimilarity(vectors[0], vectors[1])).toBeGreaterThan(
      cosineSimilarity(vectors[0], vectors[2]) + 0.3,
    );
    expect(result.usage.total_tokens).toBe(6 + 5 + 3);

    const small = await client().embeddings.create({
      model: 'text-embedding-3-small',
      input: 'cat',
      dimensions: 16,
      encoding_format: 'float',
    });
    expect(small.data[0].embedding).toEqual(fakeEmbedding('cat', 16));
  });

  it('serves scripted embedding failures first and the client retries a 429', async () => {
    fake.enqueueEmbeddings(errorTurn(429), errorTurn(500, { retryAfterMs: 10 }));
    const result = await client(2).embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    expect(result.data).toHaveLength(1);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 500, 200]);
  });

  it('transcribes a multipart audio upload with the scripted text', async () => {
    fake.enqueueTranscription(transcriptionTurn('hello from the microphone'));
    const audio = Buffer.from('RIFF0000WAVEfmt fake audio bytes');
    const result = await client().audio.transcriptions.create({
      model: 'gpt-4o-mini-transcribe',
      file: await toFile(audio, 'note.wav', { type: 'audio/wav' }),
    });
    expect(result.text).toBe('hello from the microphone');
    expect(fake.requests[0].body).toMatchObject({ model: 'gpt-4o-mini-transcribe' });
    expect(fake.requests[0].files).toEqual([
      { field: 'file', filename: 'note.wav', contentType: 'audio/wav', size: audio.length },
    ]);
  });
});

const searchKnowledgeBase = tool({
  name: 'search_knowledge_base',
  description: 'Search the knowledge base.',
  parameters: z.object({ query: z.string() }),
  execute: ({ query }) => `3 passages about ${query}`,
});

function runnerFor(useResponses: boolean, maxRetries = 0): Runner {
  return new Runner({
    modelProvider: new OpenAIProvider({ openAIClient: client(maxRetries), useResponses }),
    tracingDisabled: true,
  });
}

const agent = new Agent({
  name: 'Assistant',
  instructions: 'Answer from the knowledge base.',
  model: 'gpt-test',
  tools: [searchKnowledgeBase],
});

function textDeltas(events: RunStreamEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === 'raw_model_stream_event' && e.data.type === 'output_text_delta' ? [e.data.delta] : [],
  );
}

function itemNames(events: RunStreamEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'run_item_stream_event' ? [e.name] : []));
}

describe.each([
  { api: 'Responses', useResponses: true, path: '/v1/responses' },
  { api: 'Chat Completions', useResponses: false, path: '/v1/chat/completions' },
])('the Agents SDK over $api', ({ useResponses, path }) => {
  it('streams text deltas and reports usage after the run', async () => {
    fake.enqueue(textTurn('Hello from the fake model', { usage: { inputTokens: 11, outputTokens: 7 } }));

    const result = await runnerFor(useResponses).run(agent, 'hi', { stream: true });
    const events = await collect(result);
    await result.completed;

    expect(textDeltas(events)).toEqual(['Hello', ' from', ' the', ' fake', ' model']);
    expect(result.finalOutput).toBe('Hello from the fake model');
    expect(itemNames(events)).toEqual(['message_output_created']);
    expect(result.runContext.usage).toMatchObject({
      requests: 1,
      inputTokens: 11,
      outputTokens: 7,
      totalTokens: 18,
    });
    expect(fake.requestsTo(path)).toHaveLength(1);
  });

  it('runs the tool the model calls and makes a second model call with its output', async () => {
    fake.enqueue(
      toolCallTurn(
        'search_knowledge_base',
        { query: 'refunds' },
        { usage: { inputTokens: 10, outputTokens: 5 } },
      ),
      textTurn('Refunds take 5 days.', { usage: { inputTokens: 30, outputTokens: 6 } }),
    );

    const result = await runnerFor(useResponses).run(agent, 'How do refunds work?', { stream: true });
    const events = await collect(result);
    await result.completed;

    expect(itemNames(events)).toEqual(['tool_called', 'tool_output', 'message_output_created']);
    const output = events.find((e) => e.type === 'run_item_stream_event' && e.name === 'tool_output');
    expect(
      output?.type === 'run_item_stream_event' &&
        output.item.type === 'tool_call_output_item' &&
        output.item.output,
    ).toBe('3 passages about refunds');
    expect(result.finalOutput).toBe('Refunds take 5 days.');
    expect(result.runContext.usage).toMatchObject({ requests: 2, inputTokens: 40, outputTokens: 11 });
    expect(fake.requestsTo(path)).toHaveLength(2);
    expect(JSON.stringify(fake.requests[1].body)).toContain('3 passages about refunds');
    expect(fake.pendingModelTurns).toBe(0);
  });

  it('lets the client retry a 429 before streaming the answer', async () => {
    fake.enqueue(errorTurn(429), textTurn('after the rate limit'));

    const result = await runnerFor(useResponses, 2).run(agent, 'hi', { stream: true });
    await collect(result);
    await result.completed;

    expect(result.finalOutput).toBe('after the rate limit');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('surfaces a reasoning summary as a run item on Responses only', async () => {
    fake.enqueue(reasoningTurn('Weighing the refund rules', 'Refunds take 5 days.'));

    const result = await runnerFor(useResponses).run(agent, 'hi', { stream: true });
    const events = await collect(result);
    await result.completed;

    // Chat Completions has no reasoning summaries, so the fake (like OpenAI) sends none there.
    expect(itemNames(events)).toEqual(
      useResponses ? ['reasoning_item_created', 'message_output_created'] : ['message_output_created'],
    );
    expect(result.finalOutput).toBe('Refunds take 5 days.');
  });

  it('tears down the model request when the run is aborted mid-stream', async () => {
    fake.enqueue(stallAfter(2, textTurn('one two three four')));
    const controller = new AbortController();

    const result = await runnerFor(useResponses).run(agent, 'hi', {
      stream: true,
      signal: controller.signal,
    });
    const seen: string[] = [];
    for await (const event of result) {
      if (event.type === 'raw_model_stream_event' && event.data.type === 'output_text_delta') {
        seen.push(event.data.delta);
        if (seen.length === 2) controller.abort();
      }
    }
    await result.completed;

    expect(seen).toEqual(['one', ' two']);
    expect(result.cancelled).toBe(true);
    const request = await fake.waitForClientClose(0);
    expect(request.clientClosedAt).toBeGreaterThan(request.firstDeltaAt!);
    expect(request.deltasWritten).toBe(2);
  });

  it('stops after a tool listed in stopAtToolNames without a second model call', async () => {
    const recorded: unknown[] = [];
    const pickColor = tool({
      name: 'pick_color',
      description: 'Ask the user to pick a colour in the browser.',
      parameters: z.object({ palette: z.array(z.string()) }),
      execute: (args) => {
        recorded.push(args);
        return 'pending';
      },
    });
    const clientToolAgent = agent.clone({
      tools: [searchKnowledgeBase, pickColor],
      toolUseBehavior: { stopAtToolNames: ['pick_color'] },
    });
    fake.enqueue(
      toolCallTurn('pick_color', { palette: ['red', 'blue'] }, { callId: 'call_pick' }),
      textTurn('never sent'),
    );

    const result = await runnerFor(useResponses).run(clientToolAgent, 'choose', { stream: true });
    const events = await collect(result);
    await result.completed;

    expect(itemNames(events)).toEqual(['tool_called', 'tool_output']);
    expect(recorded).toEqual([{ palette: ['red', 'blue'] }]);
    // The tool's own return value becomes the final output.
    expect(result.finalOutput).toBe('pending');
    const call = events.find((e) => e.type === 'run_item_stream_event' && e.name === 'tool_called');
    expect(call?.type === 'run_item_stream_event' && call.item.rawItem).toMatchObject({
      type: 'function_call',
      callId: 'call_pick',
      name: 'pick_color',
      arguments: '{"palette":["red","blue"]}',
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.pendingModelTurns).toBe(1);
  });

  it('sends history with images, files, assistant text and a completed tool call', async () => {
    const image = 'data:image/png;base64,iVBORw0KGgo=';
    const pdf = 'data:application/pdf;base64,JVBERi0xLjQ=';
    const input: AgentInputItem[] = [
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'What is in these?' },
          { type: 'input_image', image, detail: 'auto' },
          { type: 'input_file', file: pdf, filename: 'terms.pdf' },
        ],
      },
      {
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'A logo and terms.' }],
      },
      {
        type: 'function_call',
        callId: 'call_1',
        name: 'pick_color',
        arguments: '{"palette":["red"]}',
        status: 'completed',
      },
      {
        type: 'function_call_result',
        callId: 'call_1',
        name: 'pick_color',
        status: 'completed',
        output: { type: 'text', text: '{"color":"red"}' },
      },
      { role: 'user', content: 'Thanks' },
    ];
    fake.enqueue(textTurn('ok'));

    const result = await runnerFor(useResponses).run(agent, input, { stream: true });
    await collect(result);
    await result.completed;

    const body = fake.requests[0].body;
    if (useResponses) {
      expect(body).toMatchObject({
        instructions: 'Answer from the knowledge base.',
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is in these?' },
              { type: 'input_image', image_url: image, detail: 'auto' },
              { type: 'input_file', file_data: pdf, filename: 'terms.pdf' },
            ],
          },
          {
            type: 'message',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'A logo and terms.' }],
          },
          { type: 'function_call', call_id: 'call_1', name: 'pick_color', arguments: '{"palette":["red"]}' },
          { type: 'function_call_output', call_id: 'call_1', output: '{"color":"red"}' },
          { role: 'user', content: 'Thanks' },
        ],
      });
    } else {
      expect(body).toMatchObject({
        messages: [
          { role: 'system', content: 'Answer from the knowledge base.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these?' },
              { type: 'image_url', image_url: { url: image, detail: 'auto' } },
              { type: 'file', file: { file_data: pdf, filename: 'terms.pdf' } },
            ],
          },
          {
            role: 'assistant',
            content: [{ type: 'text', text: 'A logo and terms.' }],
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'pick_color' } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{"color":"red"}' },
          { role: 'user', content: 'Thanks' },
        ],
      });
    }
  });
});

describe('Agents SDK raw events over Responses', () => {
  it('forwards every raw Responses event, including reasoning and annotations', async () => {
    fake.enqueue(
      modelTurn([
        { type: 'reasoning', summary: ['Check the docs'] },
        {
          type: 'message',
          text: 'See the docs.',
          annotations: [
            urlCitation({ url: 'https://example.com', title: 'Ex', startIndex: 4, endIndex: 12 }),
          ],
        },
      ]),
    );

    const result = await runnerFor(true).run(agent, 'hi', { stream: true });
    const events = await collect(result);
    await result.completed;

    const raw = events.filter(isOpenAIResponsesRawModelStreamEvent).map((e) => e.data.event);
    expect(raw.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'response.reasoning_summary_text.delta',
        'response.output_text.annotation.added',
        'response.output_item.done',
      ]),
    );
    expect(raw.map((e) => e.sequence_number)).toEqual(raw.map((_, i) => i));
    const kinds = events.map((e) => (e.type === 'raw_model_stream_event' ? e.data.type : e.type));
    // No agent_updated event for the starting agent; run items only after the whole response.
    expect(kinds[0]).toBe('response_started');
    expect(kinds).not.toContain('agent_updated_stream_event');
    expect(kinds.slice(-4)).toEqual([
      'response_done',
      'model',
      'run_item_stream_event',
      'run_item_stream_event',
    ]);
    expect(itemNames(events)).toEqual(['reasoning_item_created', 'message_output_created']);

    const messageAdded = raw.find(
      (e) => e.type === 'response.output_item.added' && e.item.type === 'message',
    );
    const firstDelta = events.find(
      (e) => e.type === 'raw_model_stream_event' && e.data.type === 'output_text_delta',
    );
    expect(
      firstDelta?.type === 'raw_model_stream_event' &&
        firstDelta.data.type === 'output_text_delta' &&
        firstDelta.data.itemId,
    ).toBe(messageAdded?.type === 'response.output_item.added' ? messageAdded.item.id : 'missing');
  });

  it('reaches a trace processor only when a Runner enables tracing', async () => {
    const traces: string[] = [];
    const spy: TracingProcessor = {
      onTraceStart: async (trace) => void traces.push(trace.name),
      onTraceEnd: async () => undefined,
      onSpanStart: async () => undefined,
      onSpanEnd: async () => undefined,
      shutdown: async () => undefined,
      forceFlush: async () => undefined,
    };
    setTracingDisabled(false);
    addTraceProcessor(spy);
    try {
      fake.enqueue(textTurn('untraced'), textTurn('traced'));
      const quiet = await runnerFor(true).run(agent, 'hi', { stream: true });
      await collect(quiet);
      await quiet.completed;
      expect(traces).toEqual([]);

      const loud = new Runner({
        modelProvider: new OpenAIProvider({ openAIClient: client(), useResponses: true }),
        tracingDisabled: false,
        workflowName: 'traced run',
      });
      const traced = await loud.run(agent, 'hi', { stream: true });
      await collect(traced);
      await traced.completed;
      expect(traces).toEqual(['traced run']);
    } finally {
      setTraceProcessors([]);
      setTracingDisabled(true);
    }
  });
});

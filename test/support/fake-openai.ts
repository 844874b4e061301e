/**
 * A fake OpenAI API for tests: a real HTTP server on 127.0.0.1 that answers the endpoints the
 * gateway calls (Responses, Chat Completions, Embeddings, audio transcriptions) with the same
 * JSON and SSE framing as the real service, so the real `openai` client and the Agents SDK run
 * against it unmodified. Each test scripts the model's turns and then inspects what the client
 * actually sent and when it hung up.
 *
 * It must never reach the network beyond loopback, never share state between instances, and
 * never invent a model turn silently: an unscripted model request gets a loud 500.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessage,
} from 'openai/resources/chat/completions';
import type {
  Response as OpenAIResponse,
  ResponseFunctionToolCall,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseOutputText,
  ResponseReasoningItem,
  ResponseStreamEvent,
  ResponseUsage,
} from 'openai/resources/responses/responses';

// ---------------------------------------------------------------------------------------------
// Script types
// ---------------------------------------------------------------------------------------------

/** An annotation exactly as the Responses API puts it on an `output_text` part. */
export type FakeAnnotation = ResponseOutputText['annotations'][number];

export type FakeOutputItem =
  | { type: 'reasoning'; summary: string[] }
  | { type: 'message'; text: string; chunks?: string[]; annotations?: FakeAnnotation[] }
  | { type: 'function_call'; name: string; arguments: string; callId?: string };

/** Token counts to report; anything left out is estimated at roughly four characters a token. */
export interface FakeUsage {
  inputTokens?: number;
  outputTokens?: number;
  reasoningTokens?: number;
  cachedTokens?: number;
}

/**
 * What goes wrong part-way through a streamed turn. A "delta" is any incremental event: a text
 * delta, a reasoning-summary delta or a function-arguments delta (Chat Completions: any chunk
 * carrying content or tool-call arguments). `afterDeltas: 0` interrupts right before the first.
 * - `destroy`: the server destroys the socket (an abrupt upstream disconnect);
 * - `stall`: the server stops writing and holds the connection until the client goes away;
 * - `error`: the server sends the API's in-stream error event and ends the response.
 */
export interface StreamInterruption {
  afterDeltas: number;
  mode: 'destroy' | 'stall' | 'error';
  message?: string;
}

export interface ModelTurn {
  kind: 'model';
  output: FakeOutputItem[];
  usage?: FakeUsage;
  /** Wait this long before writing each delta, to make streams observably incremental. */
  deltaDelayMs?: number;
  interrupt?: StreamInterruption;
}

export interface ErrorTurn {
  kind: 'error';
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** Accept the request and never send a byte until the client gives up. */
export interface HangTurn {
  kind: 'hang';
}

export interface TranscriptionTurn {
  kind: 'transcription';
  text: string;
}

export type ScriptedModelTurn = ModelTurn | ErrorTurn | HangTurn;
export type ScriptedEmbeddingTurn = ErrorTurn | HangTurn;
export type ScriptedTranscriptionTurn = TranscriptionTurn | ErrorTurn | HangTurn;

export interface TurnOptions {
  usage?: FakeUsage;
  deltaDelayMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

export function modelTurn(output: FakeOutputItem[], options: TurnOptions = {}): ModelTurn {
  return { kind: 'model', output, ...options };
}

/** A plain assistant answer, streamed word by word unless `chunks` says otherwise. */
export function textTurn(
  text: string,
  options: TurnOptions & { chunks?: string[]; annotations?: FakeAnnotation[] } = {},
): ModelTurn {
  const { chunks, annotations, ...rest } = options;
  return modelTurn([{ type: 'message', text, chunks, annotations }], rest);
}

/** A reasoning item with a streamed summary, followed by the answer. */
export function reasoningTurn(
  summary: string | string[],
  text: string,
  options: TurnOptions = {},
): ModelTurn {
  const parts = typeof summary === 'string' ? [summary] : summary;
  return modelTurn(
    [
      { type: 'reasoning', summary: parts },
      { type: 'message', text },
    ],
    options,
  );
}

export interface FakeToolCall {
  name: string;
  arguments: Record<string, unknown> | string;
  callId?: string;
}

/** One function call; the model stops there and waits for the tool output. */
export function toolCallTurn(
  name: string,
  args: Record<string, unknown> | string,
  options: TurnOptions & { callId?: string } = {},
): ModelTurn {
  const { callId, ...rest } = options;
  return toolCallsTurn([{ name, arguments: args, callId }], rest);
}

/** Several function calls in one turn (parallel tool calls). */
export function toolCallsTurn(calls: FakeToolCall[], options: TurnOptions = {}): ModelTurn {
  return modelTurn(
    calls.map((call) => ({
      type: 'function_call' as const,
      name: call.name,
      arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
      callId: call.callId,
    })),
    options,
  );
}

export function urlCitation(input: {
  url: string;
  title: string;
  startIndex: number;
  endIndex: number;
}): FakeAnnotation {
  return {
    type: 'url_citation',
    url: input.url,
    title: input.title,
    start_index: input.startIndex,
    end_index: input.endIndex,
  };
}

export function fileCitation(input: { fileId: string; filename: string; index: number }): FakeAnnotation {
  return { type: 'file_citation', file_id: input.fileId, filename: input.filename, index: input.index };
}

const DEFAULT_ERROR_TYPES: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' },
  404: { type: 'invalid_request_error', code: null, message: 'Not found.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests.' },
  500: {
    type: 'server_error',
    code: null,
    message: 'The server had an error while processing your request.',
  },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded.' },
};

/**
 * An HTTP error answer. 429 carries `retry-after-ms` (10 ms unless told) so the client's own
 * retry loop is exercised without slowing the suite; pass `retryAfterSeconds` to test the
 * standard header instead.
 */
export function errorTurn(
  status: number,
  options: {
    message?: string;
    code?: string | null;
    type?: string;
    body?: unknown;
    headers?: Record<string, string>;
    retryAfterMs?: number;
    retryAfterSeconds?: number;
  } = {},
): ErrorTurn {
  const defaults = DEFAULT_ERROR_TYPES[status] ?? {
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    code: null,
    message: `HTTP ${status}`,
  };
  const headers: Record<string, string> = { ...options.headers };
  if (options.retryAfterSeconds !== undefined) {
    headers['retry-after'] = String(options.retryAfterSeconds);
  } else if (options.retryAfterMs !== undefined || status === 429) {
    headers['retry-after-ms'] = String(options.retryAfterMs ?? 10);
  }
  const body = options.body ?? {
    error: {
      message: options.message ?? defaults.message,
      type: options.type ?? defaults.type,
      param: null,
      code: options.code === undefined ? defaults.code : options.code,
    },
  };
  return { kind: 'error', status, body, headers };
}

export function hangTurn(): HangTurn {
  return { kind: 'hang' };
}

export function transcriptionTurn(text: string): TranscriptionTurn {
  return { kind: 'transcription', text };
}

/** The server destroys the socket after `afterDeltas` deltas of `turn`. */
export function dropConnectionAfter(afterDeltas: number, turn: ModelTurn): ModelTurn {
  return { ...turn, interrupt: { afterDeltas, mode: 'destroy' } };
}

/** The server goes silent after `afterDeltas` deltas of `turn` until the client disconnects. */
export function stallAfter(afterDeltas: number, turn: ModelTurn): ModelTurn {
  return { ...turn, interrupt: { afterDeltas, mode: 'stall' } };
}

/** The server sends an in-stream API error after `afterDeltas` deltas of `turn`. */
export function streamErrorAfter(afterDeltas: number, turn: ModelTurn, message?: string): ModelTurn {
  return { ...turn, interrupt: { afterDeltas, mode: 'error', message } };
}

// ---------------------------------------------------------------------------------------------
// Embeddings
// ---------------------------------------------------------------------------------------------

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * The vector the fake returns for `text`: a signed hashed bag of lower-cased words, L2-normalised.
 * Texts that share words have a positive cosine similarity; texts with no word in common are
 * near-orthogonal. Text without words maps to the first unit vector so it is never all zeros.
 * Exported so tests can compute expected rankings instead of hard-coding them.
 */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of words(text)) {
    const hash = fnv1a(word);
    vector[hash % dimensions] += hash & 0x80000000 ? -1 : 1;
  }
  const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  return vector.map((v) => v / norm);
}

export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

// ---------------------------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------------------------

export interface RecordedFile {
  field: string;
  filename: string;
  contentType: string;
  size: number;
}

export interface RecordedRequest {
  index: number;
  method: string;
  /** Path without the query string, e.g. `/v1/responses`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, or for multipart `{ ...textFields }`, or the raw text otherwise. */
  body: unknown;
  files: RecordedFile[];
  stream: boolean;
  /** Which scripted turn kind answered it (`'embedding'` for computed vectors, `'unscripted'`). */
  answeredWith: string;
  status?: number;
  /** Timestamps are epoch milliseconds with sub-millisecond precision (comparable to Date.now()). */
  receivedAt: number;
  firstDeltaAt?: number;
  /** Set when the server finished writing the whole response. */
  completedAt?: number;
  /** The client hung up before the server finished the response. */
  clientClosed: boolean;
  clientClosedAt?: number;
  /** The server destroyed the connection on purpose (`dropConnectionAfter`). */
  serverDestroyed: boolean;
  deltasWritten: number;
  /**
   * Bytes of a streamed answer the socket has taken so far: the kernel accepted them. A client
   * that stops reading the response stops this from growing once the TCP buffers are full.
   */
  bytesWritten: number;
  /** The client's port on the connection that carried the request (to find it in the kernel). */
  clientPort: number;
}

export interface FakeOpenAIOptions {
  /** Embedding size when the request does not ask for `dimensions`. Default 64. */
  embeddingDimensions?: number;
  /**
   * Answer model requests with this when the queue is empty, instead of a loud 500; a function
   * chooses per request (a benchmark answering streamed and one-shot requests differently).
   */
  defaultModelTurn?: ScriptedModelTurn | ((request: RecordedRequest) => ScriptedModelTurn);
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Word-sized pieces that keep their leading whitespace, so joining them gives the text back. */
export function splitIntoDeltas(text: string): string[] {
  return text.split(/(?<=\S)(?=\s+\S)/).filter((part) => part.length > 0);
}

function splitEvenly(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts;
}

function estimateTokens(value: unknown): number {
  if (value === undefined || value === null) return 0;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return Math.ceil(text.length / 4);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Rendering a turn into wire events
// ---------------------------------------------------------------------------------------------

/** One SSE message; `delta` marks the incremental ones that interruptions count. */
interface WireEvent {
  event?: string;
  data: string;
  delta: boolean;
}

interface ResolvedUsage {
  input: number;
  output: number;
  reasoning: number;
  cached: number;
}

function resolveUsage(turn: ModelTurn, requestBody: Record<string, unknown>): ResolvedUsage {
  const prompt = [requestBody.instructions, requestBody.input, requestBody.messages, requestBody.tools];
  const outputChars = turn.output.reduce((sum, item) => {
    if (item.type === 'message') return sum + item.text.length;
    if (item.type === 'function_call') return sum + item.arguments.length + item.name.length;
    return sum;
  }, 0);
  const reasoningChars = turn.output.reduce(
    (sum, item) => (item.type === 'reasoning' ? sum + item.summary.join('').length : sum),
    0,
  );
  const reasoning = turn.usage?.reasoningTokens ?? Math.ceil(reasoningChars / 4);
  return {
    input: turn.usage?.inputTokens ?? prompt.reduce<number>((sum, part) => sum + estimateTokens(part), 0),
    output: turn.usage?.outputTokens ?? Math.ceil(outputChars / 4) + reasoning,
    reasoning,
    cached: turn.usage?.cachedTokens ?? 0,
  };
}

interface Ids {
  next(prefix: string): string;
}

function renderResponses(
  turn: ModelTurn,
  body: Record<string, unknown>,
  ids: Ids,
): { events: WireEvent[]; final: OpenAIResponse } {
  const responseId = ids.next('resp');
  const createdAt = Math.floor(Date.now() / 1000);
  const usage = resolveUsage(turn, body);
  const base = (status: OpenAIResponse['status'], output: ResponseOutputItem[]): OpenAIResponse => ({
    id: responseId,
    object: 'response',
    created_at: createdAt,
    status,
    access_programs: null,
    error: null,
    incomplete_details: null,
    instructions: typeof body.instructions === 'string' ? body.instructions : null,
    metadata: isRecord(body.metadata) ? (body.metadata as Record<string, string>) : {},
    model: typeof body.model === 'string' ? body.model : 'gpt-fake',
    output,
    output_text: '',
    parallel_tool_calls: body.parallel_tool_calls !== false,
    previous_response_id: typeof body.previous_response_id === 'string' ? body.previous_response_id : null,
    temperature: typeof body.temperature === 'number' ? body.temperature : 1,
    top_p: typeof body.top_p === 'number' ? body.top_p : 1,
    tool_choice: 'auto',
    tools: Array.isArray(body.tools) ? (body.tools as OpenAIResponse['tools']) : [],
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    usage: undefined,
  });

  const events: WireEvent[] = [];
  let sequence = 0;
  const push = (event: ResponseStreamEvent, delta = false): void => {
    events.push({ event: event.type, data: JSON.stringify(event), delta });
  };
  const next = (): number => sequence++;

  push({ type: 'response.created', sequence_number: next(), response: base('in_progress', []) });
  push({ type: 'response.in_progress', sequence_number: next(), response: base('in_progress', []) });

  const finished: ResponseOutputItem[] = [];
  turn.output.forEach((spec, outputIndex) => {
    if (spec.type === 'reasoning') {
      const id = ids.next('rs');
      push({
        type: 'response.output_item.added',
        sequence_number: next(),
        output_index: outputIndex,
        item: { id, type: 'reasoning', summary: [] },
      });
      spec.summary.forEach((text, summaryIndex) => {
        const common = { item_id: id, output_index: outputIndex, summary_index: summaryIndex };
        push({
          type: 'response.reasoning_summary_part.added',
          sequence_number: next(),
          ...common,
          part: { type: 'summary_text', text: '' },
        });
        for (const delta of splitIntoDeltas(text)) {
          push(
            { type: 'response.reasoning_summary_text.delta', sequence_number: next(), ...common, delta },
            true,
          );
        }
        push({ type: 'response.reasoning_summary_text.done', sequence_number: next(), ...common, text });
        push({
          type: 'response.reasoning_summary_part.done',
          sequence_number: next(),
          ...common,
          part: { type: 'summary_text', text },
        });
      });
      const item: ResponseReasoningItem = {
        id,
        type: 'reasoning',
        summary: spec.summary.map((text) => ({ type: 'summary_text', text })),
      };
      push({ type: 'response.output_item.done', sequence_number: next(), output_index: outputIndex, item });
      finished.push(item);
      return;
    }

    if (spec.type === 'message') {
      const id = ids.next('msg');
      const chunks = spec.chunks ?? splitIntoDeltas(spec.text);
      if (chunks.join('') !== spec.text) {
        throw new Error(`FakeOpenAI: chunks do not add up to the message text ${JSON.stringify(spec.text)}`);
      }
      const annotations = spec.annotations ?? [];
      push({
        type: 'response.output_item.added',
        sequence_number: next(),
        output_index: outputIndex,
        item: { id, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
      });
      const common = { item_id: id, output_index: outputIndex, content_index: 0 };
      push({
        type: 'response.content_part.added',
        sequence_number: next(),
        ...common,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      });
      // An annotation is announced once the text it points at has been streamed.
      const position = (a: FakeAnnotation): number => ('end_index' in a ? a.end_index : a.index);
      let written = 0;
      let announced = 0;
      const announce = (upTo: number): void => {
        while (announced < annotations.length && position(annotations[announced]) <= upTo) {
          push({
            type: 'response.output_text.annotation.added',
            sequence_number: next(),
            ...common,
            annotation_index: announced,
            annotation: annotations[announced],
          });
          announced++;
        }
      };
      for (const delta of chunks) {
        push(
          { type: 'response.output_text.delta', sequence_number: next(), ...common, delta, logprobs: [] },
          true,
        );
        written += delta.length;
        announce(written);
      }
      announce(Number.POSITIVE_INFINITY);
      push({
        type: 'response.output_text.done',
        sequence_number: next(),
        ...common,
        text: spec.text,
        logprobs: [],
      });
      const part: ResponseOutputText = { type: 'output_text', text: spec.text, annotations, logprobs: [] };
      push({ type: 'response.content_part.done', sequence_number: next(), ...common, part });
      const item: ResponseOutputMessage = {
        id,
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [part],
      };
      push({ type: 'response.output_item.done', sequence_number: next(), output_index: outputIndex, item });
      finished.push(item);
      return;
    }

    const id = ids.next('fc');
    const callId = spec.callId ?? ids.next('call');
    push({
      type: 'response.output_item.added',
      sequence_number: next(),
      output_index: outputIndex,
      item: {
        id,
        type: 'function_call',
        status: 'in_progress',
        call_id: callId,
        name: spec.name,
        arguments: '',
      },
    });
    for (const delta of splitEvenly(spec.arguments, 12)) {
      push(
        {
          type: 'response.function_call_arguments.delta',
          sequence_number: next(),
          item_id: id,
          output_index: outputIndex,
          delta,
        },
        true,
      );
    }
    push({
      type: 'response.function_call_arguments.done',
      sequence_number: next(),
      item_id: id,
      output_index: outputIndex,
      arguments: spec.arguments,
    });
    const item: ResponseFunctionToolCall = {
      id,
      type: 'function_call',
      status: 'completed',
      call_id: callId,
      name: spec.name,
      arguments: spec.arguments,
    };
    push({ type: 'response.output_item.done', sequence_number: next(), output_index: outputIndex, item });
    finished.push(item);
  });

  const responseUsage: ResponseUsage = {
    input_tokens: usage.input,
    input_tokens_details: { cached_tokens: usage.cached, cache_write_tokens: 0 },
    output_tokens: usage.output,
    output_tokens_details: { reasoning_tokens: usage.reasoning },
    total_tokens: usage.input + usage.output,
  };
  const final: OpenAIResponse = {
    ...base('completed', finished),
    completed_at: Math.floor(Date.now() / 1000),
    output_text: finished
      .flatMap((item) => (item.type === 'message' ? item.content : []))
      .map((part) => (part.type === 'output_text' ? part.text : ''))
      .join(''),
    usage: responseUsage,
  };
  push({ type: 'response.completed', sequence_number: next(), response: final });
  return { events, final };
}

/** Responses sequence numbers count every event, so the error takes the slot of the one it replaces. */
function renderResponsesError(message: string, sequence: number): WireEvent {
  const event: ResponseStreamEvent = {
    type: 'error',
    sequence_number: sequence,
    code: 'server_error',
    message,
    param: null,
  };
  return { event: 'error', data: JSON.stringify(event), delta: false };
}

function renderChat(
  turn: ModelTurn,
  body: Record<string, unknown>,
  ids: Ids,
): { events: WireEvent[]; final: ChatCompletion } {
  const id = ids.next('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  const model = typeof body.model === 'string' ? body.model : 'gpt-fake';
  const usage = resolveUsage(turn, body);
  const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
  const includeUsage = streamOptions.include_usage === true;
  const events: WireEvent[] = [];
  const chunk = (
    delta: ChatCompletionChunk.Choice.Delta,
    isDelta: boolean,
    finish: ChatCompletionChunk.Choice['finish_reason'] = null,
  ): void => {
    const payload: ChatCompletionChunk = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    };
    events.push({ data: JSON.stringify(payload), delta: isDelta });
  };

  // Chat Completions has no reasoning summaries on OpenAI; reasoning items are not sent.
  const messages = turn.output.filter(
    (o): o is Extract<FakeOutputItem, { type: 'message' }> => o.type === 'message',
  );
  const calls = turn.output.filter(
    (o): o is Extract<FakeOutputItem, { type: 'function_call' }> => o.type === 'function_call',
  );
  const text = messages.map((m) => m.text).join('');
  const annotations: ChatCompletionMessage.Annotation[] = messages
    .flatMap((m) => m.annotations ?? [])
    .flatMap((a) =>
      a.type === 'url_citation'
        ? [
            {
              type: 'url_citation' as const,
              url_citation: {
                url: a.url,
                title: a.title,
                start_index: a.start_index,
                end_index: a.end_index,
              },
            },
          ]
        : [],
    );

  chunk({ role: 'assistant', content: '', refusal: null }, false);
  for (const message of messages) {
    for (const delta of message.chunks ?? splitIntoDeltas(message.text)) chunk({ content: delta }, true);
  }
  if (annotations.length > 0) chunk({ annotations } as ChatCompletionChunk.Choice.Delta, false);
  const toolCalls = calls.map((call, index) => ({
    id: call.callId ?? ids.next('call'),
    type: 'function' as const,
    function: { name: call.name, arguments: call.arguments },
    index,
  }));
  for (const call of toolCalls) {
    chunk(
      {
        tool_calls: [
          {
            index: call.index,
            id: call.id,
            type: 'function',
            function: { name: call.function.name, arguments: '' },
          },
        ],
      },
      false,
    );
    for (const piece of splitEvenly(call.function.arguments, 12)) {
      chunk({ tool_calls: [{ index: call.index, function: { arguments: piece } }] }, true);
    }
  }
  const finishReason = toolCalls.length > 0 ? 'tool_calls' : 'stop';
  chunk({}, false, finishReason);
  const completionUsage = {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.input + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cached },
    completion_tokens_details: { reasoning_tokens: usage.reasoning },
  };
  if (includeUsage) {
    const last: ChatCompletionChunk = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: 'fp_fake',
      choices: [],
      usage: completionUsage,
    };
    events.push({ data: JSON.stringify(last), delta: false });
  }
  events.push({ data: '[DONE]', delta: false });

  const final: ChatCompletion = {
    id,
    object: 'chat.completion',
    created,
    model,
    system_fingerprint: 'fp_fake',
    choices: [
      {
        index: 0,
        finish_reason: finishReason,
        logprobs: null,
        message: {
          role: 'assistant',
          content: text.length > 0 || toolCalls.length === 0 ? text : null,
          refusal: null,
          ...(annotations.length > 0 ? { annotations } : {}),
          ...(toolCalls.length > 0
            ? { tool_calls: toolCalls.map(({ index: _index, ...call }) => call) }
            : {}),
        },
      },
    ],
    usage: completionUsage,
  };
  return { events, final };
}

function renderChatError(message: string): WireEvent {
  return {
    data: JSON.stringify({ error: { message, type: 'server_error', param: null, code: 'server_error' } }),
    delta: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Multipart (audio uploads)
// ---------------------------------------------------------------------------------------------

function parseMultipart(
  raw: Buffer,
  contentType: string,
): { fields: Record<string, string>; files: RecordedFile[] } {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const fields: Record<string, string> = {};
  const files: RecordedFile[] = [];
  if (!boundary) return { fields, files };
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let start = raw.indexOf(delimiter);
  while (start !== -1) {
    const partStart = start + delimiter.length;
    const end = raw.indexOf(delimiter, partStart);
    if (end === -1) break;
    // Each part is CRLF, headers, CRLF CRLF, content, CRLF.
    const part = raw.subarray(partStart + 2, end - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const content = part.subarray(headerEnd + 4);
      const name = /name="([^"]*)"/i.exec(headers)?.[1] ?? '';
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
      if (filename !== undefined) {
        const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? 'application/octet-stream';
        files.push({ field: name, filename, contentType: type.trim(), size: content.length });
      } else {
        fields[name] = content.toString('utf8');
      }
    }
    start = end;
  }
  return { fields, files };
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  private readonly modelQueue: ScriptedModelTurn[] = [];
  private readonly embeddingQueue: ScriptedEmbeddingTurn[] = [];
  private readonly transcriptionQueue: ScriptedTranscriptionTurn[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly counters = new Map<string, number>();
  private readonly ids: Ids = {
    next: (prefix: string): string => {
      const n = (this.counters.get(prefix) ?? 0) + 1;
      this.counters.set(prefix, n);
      return `${prefix}_fake${String(n).padStart(4, '0')}`;
    },
  };

  private readonly server: Server;
  private origin = '';

  private constructor(private readonly options: FakeOpenAIOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        // A bug in the fake must fail the test loudly, not look like a model answer the client
        // would retry or accept.
        console.error('FakeOpenAI crashed while answering', req.method, req.url, error);
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json', 'x-should-retry': 'false' });
          res.end(
            JSON.stringify({
              error: { message: `FakeOpenAI crashed: ${String(error)}`, code: 'fake_crash' },
            }),
          );
        } else {
          res.destroy();
        }
      });
    });
  }

  static async start(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
    const fake = new FakeOpenAI(options);
    fake.server.listen(0, '127.0.0.1');
    await once(fake.server, 'listening');
    const { port } = fake.server.address() as AddressInfo;
    fake.origin = `http://127.0.0.1:${port}`;
    return fake;
  }

  /** `http://127.0.0.1:<port>`, without the `/v1` prefix. */
  get url(): string {
    return this.origin;
  }

  /** What to pass as `baseURL` to `new OpenAI(...)`. */
  get baseURL(): string {
    return `${this.url}/v1`;
  }

  /** Queue model turns, answered in order by `/v1/responses` and `/v1/chat/completions`. */
  enqueue(...turns: ScriptedModelTurn[]): this {
    this.modelQueue.push(...turns);
    return this;
  }

  /** Queue failures for `/v1/embeddings`; once empty, embeddings are computed. */
  enqueueEmbeddings(...turns: ScriptedEmbeddingTurn[]): this {
    this.embeddingQueue.push(...turns);
    return this;
  }

  enqueueTranscription(...turns: ScriptedTranscriptionTurn[]): this {
    this.transcriptionQueue.push(...turns);
    return this;
  }

  /** Model turns not yet consumed: tests assert 0 to prove every scripted call happened. */
  get pendingModelTurns(): number {
    return this.modelQueue.length;
  }

  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Resolves once the `index`-th request (0-based, all endpoints) has arrived. */
  waitForRequest(index: number, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.waitFor(() => this.requests[index], timeoutMs, `request #${index} to arrive`);
  }

  /**
   * Resolves once the client hung up on request `index` before the response ended; rejects if
   * the response completed instead, or on timeout.
   */
  waitForClientClose(index: number, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.waitFor(
      () => {
        const request = this.requests[index];
        if (!request) return undefined;
        if (request.clientClosed) return request;
        if (request.completedAt !== undefined || request.serverDestroyed) {
          throw new Error(`request #${index} ended without the client closing it`);
        }
        return undefined;
      },
      timeoutMs,
      `the client to close request #${index}`,
    );
  }

  /** Resolves once request `index` is over for whatever reason (completed, closed, destroyed). */
  waitForRequestEnd(index: number, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.waitFor(
      () => {
        const r = this.requests[index];
        return r && (r.completedAt !== undefined || r.clientClosed || r.serverDestroyed) ? r : undefined;
      },
      timeoutMs,
      `request #${index} to end`,
    );
  }

  /** Forget queued turns and recorded requests (between tests sharing one server). */
  reset(): void {
    this.modelQueue.length = 0;
    this.embeddingQueue.length = 0;
    this.transcriptionQueue.length = 0;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = (): boolean => {
        try {
          const value = check();
          if (value === undefined) return false;
          resolve(value);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
        return true;
      };
      if (attempt()) return;
      const timer = setTimeout(() => {
        this.waiters.delete(listener);
        reject(new Error(`FakeOpenAI: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const listener = (): void => {
        if (attempt()) {
          clearTimeout(timer);
          this.waiters.delete(listener);
        }
      };
      this.waiters.add(listener);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const contentType = req.headers['content-type'] ?? '';
    let body: unknown = raw.toString('utf8');
    let files: RecordedFile[] = [];
    if (contentType.includes('application/json') && raw.length > 0) {
      body = JSON.parse(raw.toString('utf8')) as unknown;
    } else if (contentType.includes('multipart/form-data')) {
      const parsed = parseMultipart(raw, contentType);
      body = parsed.fields;
      files = parsed.files;
    }
    const record: RecordedRequest = {
      index: this.requests.length,
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0],
      headers: req.headers,
      body,
      files,
      stream: isRecord(body) && body.stream === true,
      answeredWith: 'unscripted',
      receivedAt: now(),
      clientClosed: false,
      serverDestroyed: false,
      deltasWritten: 0,
      bytesWritten: 0,
      clientPort: req.socket.remotePort ?? 0,
    };
    this.requests.push(record);
    res.setHeader('x-request-id', `req_fake${String(record.index).padStart(4, '0')}`);
    res.on('close', () => {
      if (!res.writableFinished && !record.serverDestroyed) {
        record.clientClosed = true;
        record.clientClosedAt = now();
      }
      this.notify();
    });
    res.on('finish', () => {
      record.completedAt = now();
      this.notify();
    });
    this.notify();

    const route = `${record.method} ${record.path}`;
    const jsonBody = isRecord(body) ? body : {};
    switch (route) {
      case 'POST /v1/responses':
        return this.answerModel(record, res, jsonBody, 'responses');
      case 'POST /v1/chat/completions':
        return this.answerModel(record, res, jsonBody, 'chat');
      case 'POST /v1/embeddings':
        return this.answerEmbeddings(record, res, jsonBody);
      case 'POST /v1/audio/transcriptions':
        return this.answerTranscription(record, res, body as Record<string, string>);
      default:
        record.answeredWith = 'not_found';
        return this.sendJson(record, res, 404, {
          error: {
            message: `FakeOpenAI has no route ${route}`,
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        });
    }
  }

  private sendJson(
    record: RecordedRequest,
    res: ServerResponse,
    status: number,
    payload: unknown,
    headers: Record<string, string> = {},
  ): void {
    record.status = status;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(payload));
  }

  private async answerModel(
    record: RecordedRequest,
    res: ServerResponse,
    body: Record<string, unknown>,
    api: 'responses' | 'chat',
  ): Promise<void> {
    const fallback = this.options.defaultModelTurn;
    const turn = this.modelQueue.shift() ?? (typeof fallback === 'function' ? fallback(record) : fallback);
    if (!turn) {
      return this.sendJson(record, res, 500, {
        error: {
          message: `FakeOpenAI: no scripted model turn left for ${record.path} (request #${record.index})`,
          type: 'server_error',
          param: null,
          code: 'fake_unscripted',
        },
      });
    }
    record.answeredWith = turn.kind;
    if (turn.kind === 'error') return this.sendJson(record, res, turn.status, turn.body, turn.headers);
    if (turn.kind === 'hang') return; // The 'close' listener records the client giving up.

    const rendered =
      api === 'responses' ? renderResponses(turn, body, this.ids) : renderChat(turn, body, this.ids);
    if (!record.stream) {
      if (turn.interrupt?.mode === 'destroy') {
        record.serverDestroyed = true;
        res.destroy();
        return;
      }
      if (turn.interrupt?.mode === 'stall') return;
      return this.sendJson(record, res, 200, rendered.final);
    }

    record.status = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    const interrupt = turn.interrupt;
    for (const [position, wire] of rendered.events.entries()) {
      if (res.destroyed) return;
      if (wire.delta && interrupt && record.deltasWritten === interrupt.afterDeltas) {
        if (interrupt.mode === 'stall') return;
        if (interrupt.mode === 'destroy') {
          record.serverDestroyed = true;
          res.destroy();
          this.notify();
          return;
        }
        const message = interrupt.message ?? 'The server had an error while processing your request.';
        const error =
          api === 'responses' ? renderResponsesError(message, position) : renderChatError(message);
        res.end(formatSse(error));
        return;
      }
      if (wire.delta && turn.deltaDelayMs) await sleep(turn.deltaDelayMs);
      if (res.destroyed) return;
      // Waiting for the socket to take each event keeps "N deltas, then drop" exact: nothing
      // written before the interruption is still sitting in a userland buffer when it happens.
      const frame = formatSse(wire);
      await writeAndFlush(res, frame);
      record.bytesWritten += Buffer.byteLength(frame);
      if (wire.delta) {
        record.deltasWritten++;
        record.firstDeltaAt ??= now();
      }
    }
    res.end();
  }

  private answerEmbeddings(
    record: RecordedRequest,
    res: ServerResponse,
    body: Record<string, unknown>,
  ): void {
    const scripted = this.embeddingQueue.shift();
    if (scripted?.kind === 'error') {
      record.answeredWith = 'error';
      return this.sendJson(record, res, scripted.status, scripted.body, scripted.headers);
    }
    if (scripted?.kind === 'hang') {
      record.answeredWith = 'hang';
      return;
    }
    record.answeredWith = 'embedding';
    const dimensions =
      typeof body.dimensions === 'number' ? body.dimensions : (this.options.embeddingDimensions ?? 64);
    const input = body.input;
    const texts: string[] =
      typeof input === 'string'
        ? [input]
        : Array.isArray(input)
          ? input.every((v) => typeof v === 'number')
            ? [input.join(' ')]
            : input.map((v) => (Array.isArray(v) ? v.join(' ') : String(v)))
          : [];
    const base64 = body.encoding_format === 'base64';
    const data = texts.map((text, index) => {
      const vector = fakeEmbedding(text, dimensions);
      const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    const tokens = texts.reduce((sum, text) => sum + Math.max(1, words(text).length), 0);
    this.sendJson(record, res, 200, {
      object: 'list',
      data,
      model: typeof body.model === 'string' ? body.model : 'text-embedding-fake',
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  private answerTranscription(
    record: RecordedRequest,
    res: ServerResponse,
    fields: Record<string, string>,
  ): void {
    const scripted = this.transcriptionQueue.shift();
    if (!scripted) {
      return this.sendJson(record, res, 500, {
        error: {
          message: 'FakeOpenAI: no scripted transcription left',
          type: 'server_error',
          param: null,
          code: 'fake_unscripted',
        },
      });
    }
    record.answeredWith = scripted.kind;
    if (scripted.kind === 'error')
      return this.sendJson(record, res, scripted.status, scripted.body, scripted.headers);
    if (scripted.kind === 'hang') return;
    if (fields.response_format === 'text') {
      record.status = 200;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(scripted.text);
      return;
    }
    this.sendJson(record, res, 200, {
      text: scripted.text,
      usage: {
        type: 'tokens',
        input_tokens: 10,
        output_tokens: estimateTokens(scripted.text),
        total_tokens: 10 + estimateTokens(scripted.text),
      },
    });
  }
}

function writeAndFlush(res: ServerResponse, chunk: string): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('close', done);
      resolve();
    };
    res.once('close', done);
    res.write(chunk, done);
  });
}

function formatSse(wire: WireEvent): string {
  return `${wire.event ? `event: ${wire.event}\n` : ''}data: ${wire.data}\n\n`;
}

/** Same as `FakeOpenAI.start`. */
export function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  return FakeOpenAI.start(options);
}

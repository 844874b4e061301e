/**
 * The gateway's own spans: one tracer, the attribute names we use, and small helpers that make a
 * span around a call or a stream. With tracing off (no SDK started) the API's tracer is a no-op:
 * spans cost an object each and record nothing, so the helpers are safe on every turn's path.
 *
 * Attributes carry names, kinds, counts and durations only. Never message text, tool arguments or
 * results, file names, queries, tokens or secrets; a failure is recorded as its kind
 * (`error.type`), never its message, since messages may quote what the user sent.
 */
import {
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { AppException } from 'src/common/app.exception';

export const tracer = trace.getTracer('chatkit-gateway');

/**
 * Span attribute names. Model and tool spans follow the OpenTelemetry GenAI conventions (still
 * incubating, so the names are spelled out here rather than imported); the rest are ours.
 */
export const ATTR = {
  ERROR_TYPE: 'error.type',
  CHATKIT_REQUEST_TYPE: 'chatkit.request.type',
  CHATKIT_OUTCOME: 'chatkit.outcome',
  CHATKIT_LEASE_ACQUIRED: 'chatkit.lease.acquired',
  CHATKIT_LEASE_METHOD: 'chatkit.lease.method',
  GEN_AI_OPERATION_NAME: 'gen_ai.operation.name',
  GEN_AI_PROVIDER_NAME: 'gen_ai.provider.name',
  GEN_AI_AGENT_NAME: 'gen_ai.agent.name',
  GEN_AI_REQUEST_MODEL: 'gen_ai.request.model',
  GEN_AI_RESPONSE_ID: 'gen_ai.response.id',
  GEN_AI_USAGE_INPUT_TOKENS: 'gen_ai.usage.input_tokens',
  GEN_AI_USAGE_OUTPUT_TOKENS: 'gen_ai.usage.output_tokens',
  GEN_AI_USAGE_CACHED_INPUT_TOKENS: 'gen_ai.usage.cache_read.input_tokens',
  GEN_AI_USAGE_REASONING_TOKENS: 'gen_ai.usage.reasoning.output_tokens',
  /** Seconds from the request to the first streamed output. */
  GEN_AI_TIME_TO_FIRST_CHUNK: 'gen_ai.response.time_to_first_chunk',
  GEN_AI_TOOL_NAME: 'gen_ai.tool.name',
  GEN_AI_TOOL_TYPE: 'gen_ai.tool.type',
  CHATKIT_TOOL_OUTCOME: 'chatkit.tool.outcome',
  RAG_SEARCH_MODE: 'chatkit.rag.mode',
  RAG_SEARCH_REQUESTED_MODE: 'chatkit.rag.requested_mode',
  RAG_RESULT_COUNT: 'chatkit.rag.result_count',
  STORAGE_DRIVER: 'chatkit.storage.driver',
  STORAGE_OPERATION: 'chatkit.storage.operation',
  STORAGE_BYTES: 'chatkit.storage.bytes',
} as const;

/** A bounded name for what went wrong: an AppException's code, else the error's class. */
export function errorType(error: unknown): string {
  if (error instanceof AppException) return error.code;
  if (error instanceof Error) return error.name || error.constructor.name || 'Error';
  return typeof error;
}

/** Marks `span` failed with the kind of `error` (not its message). */
export function markFailed(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.setAttribute(ATTR.ERROR_TYPE, errorType(error));
}

/** Runs `fn` in a new active span that ends when it settles, failed if it throws. */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  const span = tracer.startSpan(name, { kind, attributes });
  // Tracing off: nothing to record and no context to carry, just the call.
  if (!span.isRecording()) return fn(span);
  return context.with(trace.setSpan(context.active(), span), async () => {
    try {
      return await fn(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * `events` run inside `span`: every step of the iteration happens in the span's context, so the
 * work a lazy stream does (and the spans it makes) nests under it although its consumer iterates
 * it elsewhere; the span ends with the stream, whichever way it ends. Given a span that does not
 * record, the events come back untouched.
 */
export function spanningEvents<T>(
  span: Span,
  events: AsyncIterable<T>,
  parent: Context = context.active(),
): AsyncIterable<T> {
  if (!span.isRecording()) {
    span.end();
    return events;
  }
  const active = trace.setSpan(parent, span);
  return {
    [Symbol.asyncIterator]: () => {
      const iterator = events[Symbol.asyncIterator]();
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        span.end();
      };
      const step = async (call: () => Promise<IteratorResult<T>>): Promise<IteratorResult<T>> => {
        try {
          const result = await context.with(active, call);
          if (result.done) end();
          return result;
        } catch (error) {
          if (!ended) markFailed(span, error);
          end();
          throw error;
        }
      };
      return {
        next: () => step(() => iterator.next()),
        return: (value?: unknown) =>
          step(() =>
            iterator.return
              ? iterator.return(value)
              : Promise.resolve({ done: true, value } as IteratorResult<T>),
          ).finally(end),
        throw: (error?: unknown) =>
          step(() => (iterator.throw ? iterator.throw(error) : Promise.reject(error as Error))),
      };
    },
  };
}

/**
 * Runs one tool call in an `execute_tool <name>` span with its outcome: `error` when it throws or
 * when `failed` says its result is a failure (an MCP server's error result). `type` is the GenAI
 * kind: `function` for the agent's own tools, `extension` for an MCP server's.
 */
export function toolCallSpan<T>(
  name: string,
  call: () => Promise<T>,
  options: { type?: 'function' | 'extension'; failed?: (result: T) => boolean } = {},
): Promise<T> {
  return withSpan(
    `execute_tool ${name}`,
    {
      [ATTR.GEN_AI_OPERATION_NAME]: 'execute_tool',
      [ATTR.GEN_AI_TOOL_NAME]: name,
      [ATTR.GEN_AI_TOOL_TYPE]: options.type ?? 'function',
    },
    async (span) => {
      try {
        const result = await call();
        span.setAttribute(ATTR.CHATKIT_TOOL_OUTCOME, options.failed?.(result) ? 'error' : 'ok');
        return result;
      } catch (error) {
        span.setAttribute(ATTR.CHATKIT_TOOL_OUTCOME, 'error');
        markFailed(span, error);
        throw error;
      }
    },
  );
}

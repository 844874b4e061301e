/**
 * The agent's spans, kept out of the agent's own code: `agent run` around a responder's whole
 * answer, `chat <model>` around each model call (GenAI conventions: model, token counts, time to
 * the first chunk) and `execute_tool <name>` around each server tool call (its outcome).
 *
 * Model calls are traced by wrapping the Agents SDK's model provider, not by bridging the SDK's
 * own tracing (which stays off; see model-provider.ts): the wrapped call is the one that sends the
 * request, so its span has the real timing, it is the parent of the outgoing HTTP span, and it
 * sits under the agent run in the same trace. Nothing of the prompt, the answer or the tool
 * arguments and results is ever recorded.
 *
 * Each wrapper is used only with tracing on (activeTracing()); otherwise the agent, provider and
 * tools are used as they are.
 */
import { SpanKind, type Span } from '@opentelemetry/api';
import type { Model, ModelProvider, ModelRequest, ModelResponse, StreamEvent } from '@openai/agents';
import { tokenDetail } from 'src/agent/agent-stream.mapper';
import type { Responder } from 'src/chatkit/chatkit.ports';
import { ATTR, spanningEvents, tracer, withSpan } from 'src/telemetry/tracer';

/** The token counts of a response, as the SDK reports them (streamed or not). */
interface Usage {
  inputTokens: number;
  outputTokens: number;
  inputTokensDetails?: TokenDetails;
  outputTokensDetails?: TokenDetails;
}
type TokenDetails = Record<string, number> | Array<Record<string, number>>;

function recordUsage(span: Span, usage: Usage | undefined, responseId?: string): void {
  if (!usage) return;
  span.setAttributes({
    [ATTR.GEN_AI_USAGE_INPUT_TOKENS]: usage.inputTokens,
    [ATTR.GEN_AI_USAGE_OUTPUT_TOKENS]: usage.outputTokens,
  });
  // Only what the server broke down: a count it did not report is absent, not 0.
  if (usage.inputTokensDetails)
    span.setAttribute(
      ATTR.GEN_AI_USAGE_CACHED_INPUT_TOKENS,
      tokenDetail(usage.inputTokensDetails, 'cached_tokens'),
    );
  if (usage.outputTokensDetails)
    span.setAttribute(
      ATTR.GEN_AI_USAGE_REASONING_TOKENS,
      tokenDetail(usage.outputTokensDetails, 'reasoning_tokens'),
    );
  if (responseId) span.setAttribute(ATTR.GEN_AI_RESPONSE_ID, responseId);
}

/**
 * Whether a streamed event is the model's first output: a text delta, or a raw delta of any
 * output (tool call arguments, reasoning) on the Responses API or a Chat Completions chunk that
 * carries content or a tool call.
 */
function isOutput(event: StreamEvent): boolean {
  if (event.type === 'output_text_delta') return true;
  if (event.type !== 'model') return false;
  const raw = event.event as
    | {
        type?: unknown;
        object?: unknown;
        choices?: Array<{ delta?: { content?: unknown; tool_calls?: unknown } }>;
      }
    | undefined;
  if (typeof raw?.type === 'string') return raw.type.endsWith('.delta');
  const delta = raw?.object === 'chat.completion.chunk' ? raw.choices?.[0]?.delta : undefined;
  return Boolean(delta && (delta.content || delta.tool_calls));
}

class TracedModel implements Model {
  readonly getRetryAdvice?: Model['getRetryAdvice'];

  constructor(
    private readonly inner: Model,
    private readonly model: string,
  ) {
    if (inner.getRetryAdvice) this.getRetryAdvice = (args) => inner.getRetryAdvice!(args);
  }

  get supportsPromptModelSelection(): boolean | undefined {
    return this.inner.supportsPromptModelSelection;
  }

  private attributes(stream: boolean) {
    return {
      [ATTR.GEN_AI_OPERATION_NAME]: 'chat',
      [ATTR.GEN_AI_PROVIDER_NAME]: 'openai',
      [ATTR.GEN_AI_REQUEST_MODEL]: this.model,
      'gen_ai.request.stream': stream,
    };
  }

  getResponse(request: ModelRequest): Promise<ModelResponse> {
    return withSpan(
      `chat ${this.model}`,
      this.attributes(false),
      async (span) => {
        const response = await this.inner.getResponse(request);
        recordUsage(span, response.usage, response.responseId);
        return response;
      },
      SpanKind.CLIENT,
    );
  }

  getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
    const span = tracer.startSpan(`chat ${this.model}`, {
      kind: SpanKind.CLIENT,
      attributes: this.attributes(true),
    });
    const inner = this.inner;
    async function* observed(): AsyncGenerator<StreamEvent> {
      const started = performance.now();
      let waiting = true;
      for await (const event of inner.getStreamedResponse(request)) {
        if (waiting && isOutput(event)) {
          waiting = false;
          span.setAttribute(ATTR.GEN_AI_TIME_TO_FIRST_CHUNK, (performance.now() - started) / 1000);
        }
        if (event.type === 'response_done') recordUsage(span, event.response.usage, event.response.id);
        yield event;
      }
    }
    return spanningEvents(span, observed());
  }
}

/** `provider` with a `chat <model>` span around every model call. */
export function withModelSpans(provider: ModelProvider, defaultModel: string): ModelProvider {
  return {
    getModel: async (name?: string) => new TracedModel(await provider.getModel(name), name ?? defaultModel),
  };
}

/** `responder` with an `agent run` span around each answer, holding the model and tool spans. */
export function withRunSpans(responder: Responder, agentName: string): Responder {
  const traced: Responder = {
    get historyLimit() {
      return responder.historyLimit;
    },
    get historyMessages() {
      return responder.historyMessages;
    },
    respond: (thread, input, context, signal) => {
      const span = tracer.startSpan('agent run', {
        attributes: { [ATTR.GEN_AI_OPERATION_NAME]: 'invoke_agent', [ATTR.GEN_AI_AGENT_NAME]: agentName },
      });
      return spanningEvents(span, responder.respond(thread, input, context, signal));
    },
  };
  if (responder.checkInput) traced.checkInput = (input) => responder.checkInput!(input);
  return traced;
}

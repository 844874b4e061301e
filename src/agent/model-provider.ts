/**
 * The one OpenAI client and the one Agents SDK Runner of the process, built from the `agent`
 * config namespace. The client owns timeouts and retries: it retries 429 and 5xx answers (and
 * connection failures) before any byte of a response arrived, and never once a stream has
 * started, so a retried request can never duplicate text the user already saw. Its `fetch` is a
 * lean node:http one that reads a streamed answer only while the turn's client keeps up
 * (model-fetch.ts); the Runner's copy of it reads the Responses event stream itself
 * (responses-stream.ts).
 *
 * Nothing here may send traces or other data anywhere unless AGENT_TRACING asks for it. The SDK's
 * own traces are never bridged into OpenTelemetry: with OpenTelemetry tracing on, the provider is
 * wrapped instead, and each model call gets a span of ours (agent.tracing.ts).
 */
import type { Provider } from '@nestjs/common';
import OpenAI from 'openai';
import { OpenAIProvider, Runner, setTraceProcessors, setTracingDisabled } from '@openai/agents';
import { withModelSpans } from 'src/agent/agent.tracing';
import { modelFetch } from 'src/agent/model-fetch';
import { withLeanResponseStreams } from 'src/agent/responses-stream';
import { agentConfig, type AgentConfig } from 'src/config/agent.config';
import { activeTracing } from 'src/telemetry/tracing.state';

/** DI token: the `openai` client (also usable for embeddings by other modules). */
export const OPENAI_CLIENT = Symbol('OPENAI_CLIENT');
/** DI token: the Agents SDK `Runner` wired to OPENAI_CLIENT. */
export const AGENT_RUNNER = Symbol('AGENT_RUNNER');

/**
 * Local OpenAI-compatible servers (Ollama, vLLM, llama.cpp) take no key, but the client refuses
 * to start without one and would otherwise read OPENAI_API_KEY behind our back.
 */
const NO_KEY = 'not-needed';

export function createOpenAIClient(config: AgentConfig): OpenAI {
  return new OpenAI({
    apiKey: config.apiKey ?? NO_KEY,
    baseURL: config.baseURL,
    timeout: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    fetch: modelFetch(),
  });
}

export function createAgentRunner(client: OpenAI, config: AgentConfig): Runner {
  if (!config.tracing) {
    // Importing the SDK installs a global exporter that posts traces to api.openai.com; a
    // self-hosted gateway must not phone home by default.
    setTraceProcessors([]);
    setTracingDisabled(true);
  }
  const provider = new OpenAIProvider({
    openAIClient: withLeanResponseStreams(client),
    useResponses: config.api === 'responses',
  });
  return new Runner({
    modelProvider: activeTracing() ? withModelSpans(provider, config.model) : provider,
    tracingDisabled: !config.tracing,
    traceIncludeSensitiveData: false,
    workflowName: 'chatkit-gateway',
    // A call of a tool the agent does not offer (made up, or hidden by an allow/deny list) gets an
    // error the model can read and recover from, instead of failing the whole answer.
    toolNotFoundBehavior: 'return_error_to_model',
  });
}

export const modelProviders: Provider[] = [
  { provide: OPENAI_CLIENT, useFactory: createOpenAIClient, inject: [agentConfig.KEY] },
  { provide: AGENT_RUNNER, useFactory: createAgentRunner, inject: [OPENAI_CLIENT, agentConfig.KEY] },
];

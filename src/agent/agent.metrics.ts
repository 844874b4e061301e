/**
 * The agent's Prometheus metrics, created once on the shared registry of MetricsService. Labels
 * are bounded sets only (model names from config, tool names from the registry, fixed outcome
 * and error kinds): never a user, thread or free-text error message.
 */
import { Injectable } from '@nestjs/common';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import {
  InputGuardrailTripwireTriggered,
  MaxTurnsExceededError,
  ModelBehaviorError,
  ModelTimeoutError,
  OutputGuardrailTripwireTriggered,
} from '@openai/agents';
import type { Counter, Histogram } from 'prom-client';
import { MetricsService } from 'src/metrics/metrics.service';
import type { ModelCallUsage } from 'src/usage/usage.types';

export type RunOutcome = 'completed' | 'client_tool' | 'cancelled' | 'error';
export type ToolOutcome = 'ok' | 'error' | 'client';
export type ModelErrorKind =
  | 'rate_limited'
  | 'server_error'
  | 'auth'
  | 'bad_request'
  | 'timeout'
  | 'connection'
  | 'guardrail'
  | 'max_turns'
  | 'model_behavior'
  | 'other';

/** A bounded label for whatever a model call threw. */
export function modelErrorKind(error: unknown): ModelErrorKind {
  if (error instanceof InputGuardrailTripwireTriggered || error instanceof OutputGuardrailTripwireTriggered) {
    return 'guardrail';
  }
  if (error instanceof MaxTurnsExceededError) return 'max_turns';
  if (error instanceof ModelTimeoutError || error instanceof APIConnectionTimeoutError) return 'timeout';
  if (error instanceof APIConnectionError) return 'connection';
  if (error instanceof APIError && !(error instanceof APIUserAbortError)) {
    const status = error.status ?? 0;
    if (status === 429) return 'rate_limited';
    if (status === 401 || status === 403) return 'auth';
    if (status >= 500 || status === 0) return 'server_error';
    if (status >= 400) return 'bad_request';
  }
  if (error instanceof ModelBehaviorError) return 'model_behavior';
  // An upstream socket torn down mid-stream surfaces as a bare `TypeError: terminated` from
  // fetch, created in Node's own realm, so it is recognised by shape rather than instanceof.
  const { message, cause } = (typeof error === 'object' && error !== null ? error : {}) as {
    message?: unknown;
    cause?: unknown;
  };
  if (/terminated|socket|ECONNRESET|other side closed/i.test(`${String(message)} ${String(cause)}`)) {
    return 'connection';
  }
  return 'other';
}

@Injectable()
export class AgentMetrics {
  private readonly runDuration: Histogram<'model' | 'outcome'>;
  private readonly firstToken: Histogram<'model'>;
  private readonly tokens: Counter<'model' | 'direction'>;
  private readonly toolCalls: Counter<'tool' | 'outcome'>;
  private readonly modelErrors: Counter<'model' | 'kind'>;

  constructor(metrics: MetricsService) {
    this.runDuration = metrics.histogram(
      'agent_run_duration_seconds',
      'Duration of one agent run (all model calls and tools of a turn) by model and outcome',
      ['model', 'outcome'],
      [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
    );
    this.firstToken = metrics.histogram(
      'agent_time_to_first_token_seconds',
      'Time from the start of an agent run to the first streamed answer text',
      ['model'],
      [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30],
    );
    // `direction` keeps its name (dashboards and alerts use it); cached_input is part of input
    // and reasoning part of output, so input + output is still the total.
    this.tokens = metrics.counter(
      'agent_tokens_total',
      'Model tokens by model and kind (direction: input, cached_input, output, reasoning; cached_input is part of input, reasoning part of output)',
      ['model', 'direction'],
    );
    this.toolCalls = metrics.counter('agent_tool_calls_total', 'Tool calls by tool name and outcome', [
      'tool',
      'outcome',
    ]);
    this.modelErrors = metrics.counter(
      'agent_model_errors_total',
      'Failed agent runs by model and error kind',
      ['model', 'kind'],
    );
  }

  run(model: string, outcome: RunOutcome, seconds: number): void {
    this.runDuration.observe({ model, outcome }, seconds);
  }

  timeToFirstToken(model: string, seconds: number): void {
    this.firstToken.observe({ model }, seconds);
  }

  usage(usage: ModelCallUsage): void {
    const { model } = usage;
    if (usage.inputTokens > 0) this.tokens.inc({ model, direction: 'input' }, usage.inputTokens);
    if (usage.cachedInputTokens > 0)
      this.tokens.inc({ model, direction: 'cached_input' }, usage.cachedInputTokens);
    if (usage.outputTokens > 0) this.tokens.inc({ model, direction: 'output' }, usage.outputTokens);
    if (usage.reasoningTokens > 0) this.tokens.inc({ model, direction: 'reasoning' }, usage.reasoningTokens);
  }

  toolCall(tool: string, outcome: ToolOutcome): void {
    this.toolCalls.inc({ tool, outcome });
  }

  modelError(model: string, error: unknown): ModelErrorKind {
    const kind = modelErrorKind(error);
    this.modelErrors.inc({ model, kind });
    return kind;
  }
}

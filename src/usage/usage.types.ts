/**
 * The shapes token accounting passes between layers: what one model call spent (the agent hands
 * it to the protocol layer through ResponderContext.recordUsage), what a turn stores per model,
 * and the budget a turn holds from its admission to its end (QuotaService).
 */

/** The tokens of one model call, as the model server reported them. */
export interface ModelCallUsage {
  model: string;
  /** All input tokens, cached ones included. */
  inputTokens: number;
  /** The part of `inputTokens` served from the provider's prompt cache. */
  cachedInputTokens: number;
  /** All output tokens, reasoning included. */
  outputTokens: number;
  /** The part of `outputTokens` spent on reasoning. */
  reasoningTokens: number;
}

/** A turn's calls to one model, summed: one row of token_usage. */
export interface ModelUsageRow {
  model: string;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  requests: number;
}

export type QuotaScope = 'user' | 'org';
export type QuotaPeriod = 'day' | 'month';
/** A budget's name, as the API, the headers and the metrics say it. */
export type BudgetName = `${QuotaScope}_${QuotaPeriod}`;

/** One counter row's key (see UsageCounterEntity). */
export interface CounterKey {
  scope: QuotaScope;
  org_id: string;
  user_id: string;
  period: QuotaPeriod;
  /** The period's first day, YYYY-MM-DD (UTC). */
  starts: string;
}

/** Budget held on one counter by an admitted turn. */
export interface CounterHold extends CounterKey {
  held: number;
}

/** What a turn's final statement settles: the holds taken at admission, and what the turn spent. */
export interface QuotaSettlement {
  holds: CounterHold[];
  spent: number;
}

/** Total tokens, the unit every budget counts in. */
export function totalTokens(usage: Pick<ModelCallUsage, 'inputTokens' | 'outputTokens'>): number {
  return usage.inputTokens + usage.outputTokens;
}

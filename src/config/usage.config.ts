/**
 * Token accounting: the prices that turn stored token counts into cost estimates, and the token
 * budgets (quotas) a turn is admitted against. Every budget is off unless set; with none set the
 * turn pays nothing for quotas (no statement, no header).
 *
 * Reading this namespace must never touch the database.
 */
import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import { ConfigValidationError, envInt, envOptionalInt, envString, parseEnv } from 'src/config/env.schema';

/** USD per million tokens, by kind. `cached_input` defaults to `input` (no discount known). */
export interface ModelPrice {
  input: number;
  cached_input: number;
  output: number;
}

const BUDGET = { min: 1, max: 1_000_000_000_000 };

export const usageEnvShape = {
  AGENT_MODEL_PRICES: envString(),
  USAGE_QUOTA_USER_DAY: envOptionalInt(BUDGET),
  USAGE_QUOTA_USER_MONTH: envOptionalInt(BUDGET),
  USAGE_QUOTA_ORG_DAY: envOptionalInt(BUDGET),
  USAGE_QUOTA_ORG_MONTH: envOptionalInt(BUDGET),
  USAGE_QUOTA_TURN_RESERVE: envInt(4_000, { min: 1, max: 100_000_000 }),
};

const PRICE = z.number().finite().min(0);
const PriceSchema = z.strictObject({ input: PRICE, cached_input: PRICE.optional(), output: PRICE });

/** AGENT_MODEL_PRICES: a JSON object of model → prices; every bad entry is named. */
export function parsePrices(raw: string | undefined): Record<string, ModelPrice> {
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigValidationError([
      'AGENT_MODEL_PRICES: expected a JSON object such as {"gpt-4.1-mini":{"input":0.4,"cached_input":0.1,"output":1.6}}',
    ]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigValidationError(['AGENT_MODEL_PRICES: expected a JSON object of model name → prices']);
  }
  const prices: Record<string, ModelPrice> = {};
  const problems: string[] = [];
  for (const [model, value] of Object.entries(parsed)) {
    const price = PriceSchema.safeParse(value);
    if (!price.success) {
      const issue = price.error.issues[0];
      const where = issue.path.length ? `.${issue.path.join('.')}` : '';
      problems.push(
        `AGENT_MODEL_PRICES: "${model}"${where}: ${issue.message} (expected {"input":n,"cached_input"?:n,"output":n}, USD per million tokens, n >= 0)`,
      );
      continue;
    }
    prices[model] = { ...price.data, cached_input: price.data.cached_input ?? price.data.input };
  }
  if (problems.length) throw new ConfigValidationError(problems);
  return prices;
}

export const usageConfig = registerAs('usage', () => {
  const env = parseEnv(usageEnvShape);
  return {
    prices: parsePrices(env.AGENT_MODEL_PRICES),
    /** Total tokens (input + output) per UTC day / calendar month (UTC); undefined: no budget. */
    quotas: {
      userDay: env.USAGE_QUOTA_USER_DAY,
      userMonth: env.USAGE_QUOTA_USER_MONTH,
      orgDay: env.USAGE_QUOTA_ORG_DAY,
      orgMonth: env.USAGE_QUOTA_ORG_MONTH,
    },
    /**
     * Tokens held for a turn from its admission to its end, so that concurrent turns cannot all
     * pass on the same remaining budget (see QuotaService). The largest turn seen in the period
     * is held instead when it is larger.
     */
    turnReserve: env.USAGE_QUOTA_TURN_RESERVE,
  };
});

export type UsageConfig = ReturnType<typeof usageConfig>;

/**
 * GET /api/usage in zod: the query it accepts (validated by the global pipe) and the report it
 * answers (the OpenAPI document's schema, and the service's return type, so the two cannot drift).
 */
import { z } from 'zod';

/** The longest period one report covers, in days (a leap year). */
export const MAX_REPORT_DAYS = 366;
const DAY_MS = 86_400_000;

const DaySchema = z.iso.date();

export const UsageQuerySchema = z
  .object({
    from: DaySchema.optional().describe('First day (UTC), YYYY-MM-DD; default the first of this month'),
    to: DaySchema.optional().describe('Last day (UTC), included, YYYY-MM-DD; default the last of this month'),
    scope: z
      .enum(['user', 'org'])
      .default('user')
      .describe("`user`: your own usage; `org`: your organization's, by user (org admins only)"),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.from && q.to) {
      const days = (Date.parse(q.to) - Date.parse(q.from)) / DAY_MS + 1;
      if (days < 1) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must not be before from' });
      else if (days > MAX_REPORT_DAYS)
        ctx.addIssue({
          code: 'custom',
          path: ['to'],
          message: `the period may cover at most ${MAX_REPORT_DAYS} days`,
        });
    }
  });
export type UsageQuery = z.output<typeof UsageQuerySchema>;

const tokens = {
  input_tokens: z.int().describe('All input tokens, cached ones included'),
  cached_input_tokens: z.int().describe('The part of input_tokens served from the prompt cache'),
  output_tokens: z.int().describe('All output tokens, reasoning included'),
  reasoning_tokens: z.int().describe('The part of output_tokens spent on reasoning'),
  total_tokens: z.int().describe('input_tokens + output_tokens: what budgets count'),
  requests: z.int().describe('Model calls'),
  cost_usd: z
    .number()
    .optional()
    .describe('Estimated from AGENT_MODEL_PRICES; absent when the model has no price'),
};

const UsageRowSchema = z
  .object({
    day: z.string().describe('UTC day, YYYY-MM-DD'),
    model: z.string(),
    user_id: z.string().optional().describe('Only in an org report (scope=org)'),
    ...tokens,
  })
  .meta({ id: 'UsageRow' });

const BudgetStatusSchema = z
  .object({
    budget: z.enum(['user_day', 'user_month', 'org_day', 'org_month']),
    limit_tokens: z.int(),
    used_tokens: z.int().describe('Spent by finished turns in the current period'),
    remaining_tokens: z.int(),
    resets_at: z.string().describe('When the period ends and the budget is whole again (ISO 8601, UTC)'),
  })
  .meta({ id: 'BudgetStatus' });

export const UsageReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    scope: z.enum(['user', 'org']),
    org_id: z.string().nullable(),
    user_id: z.string().nullable().describe('The user reported on; null in an org report'),
    days: z.array(UsageRowSchema).describe('One row per day and model (and user, in an org report)'),
    totals: z
      .object(tokens)
      .describe('The sums over the period; cost_usd sums the rows that have one')
      .meta({ id: 'UsageTotals' }),
    quotas: z
      .array(BudgetStatusSchema)
      .describe('The configured budgets that apply to you now (USAGE_QUOTA_*); empty without any'),
  })
  .meta({
    id: 'UsageReport',
    description: 'Token usage for a period, by day and model; cost estimates where prices are configured.',
  });
export type UsageReport = z.output<typeof UsageReportSchema>;
export type UsageRow = z.output<typeof UsageRowSchema>;
export type UsageTotals = UsageReport['totals'];
export type BudgetStatus = z.output<typeof BudgetStatusSchema>;

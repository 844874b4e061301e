/**
 * Usage reports (GET /api/usage): a caller's own token usage by day and model, or, for an org
 * admin, the org's by user; never another org's. Costs are estimates from AGENT_MODEL_PRICES,
 * given only where the model has a price.
 */
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { RequestContext } from 'src/common/request-context';
import { usageConfig, type ModelPrice, type UsageConfig } from 'src/config/usage.config';
import { QuotaService } from 'src/usage/quota.service';
import { TokenUsageEntity } from 'src/usage/token-usage.entity';
import type { BudgetStatus, UsageQuery, UsageReport, UsageRow, UsageTotals } from 'src/usage/usage.schemas';

interface SumRow {
  day: string;
  model: string;
  user_id?: string;
  input_tokens: string;
  cached_input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  requests: string;
}

/** USD for the tokens of one row; reasoning is part of output and priced as output. */
export function costOf(
  price: ModelPrice,
  t: Pick<UsageRow, 'input_tokens' | 'cached_input_tokens' | 'output_tokens'>,
): number {
  const uncached = Math.max(0, t.input_tokens - t.cached_input_tokens);
  const usd =
    (uncached * price.input + t.cached_input_tokens * price.cached_input + t.output_tokens * price.output) /
    1e6;
  return roundUsd(usd);
}

const roundUsd = (usd: number): number => Math.round(usd * 1e6) / 1e6;

@Injectable()
export class UsageService {
  constructor(
    @InjectRepository(TokenUsageEntity) private readonly usage: Repository<TokenUsageEntity>,
    @Inject(usageConfig.KEY) private readonly config: UsageConfig,
    private readonly quotas: QuotaService,
  ) {}

  async report(ctx: RequestContext, query: UsageQuery, now = new Date()): Promise<UsageReport> {
    const org = query.scope === 'org';
    // Which rows a caller may see depends on a query value, so it is decided here, not by a guard.
    if (org && !(ctx.isAdmin && ctx.orgId))
      throw new AppException(ErrorCode.Forbidden, 'scope=org requires the admin role in an organization');
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const monthEnd = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0));
    const from = query.from ?? day(monthStart);
    const to = query.to ?? day(monthEnd);
    if (from > to) throw new AppException(ErrorCode.ValidationFailed, 'from: must not be after to');

    const params: unknown[] = [ctx.orgId ?? '', from, to];
    if (!org) params.push(ctx.userId);
    // The (org_id, user_id, created_at) index answers both: a user's rows, an org's rows.
    const rows: SumRow[] = await this.usage.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, model, ${org ? 'user_id,' : ''}
              sum(input_tokens) AS input_tokens, sum(cached_input_tokens) AS cached_input_tokens,
              sum(output_tokens) AS output_tokens, sum(reasoning_tokens) AS reasoning_tokens,
              sum(requests) AS requests
         FROM token_usage
        WHERE org_id = $1 ${org ? '' : 'AND user_id = $4'}
          AND created_at >= ($2::date::timestamp AT TIME ZONE 'UTC')
          AND created_at < (($3::date + 1)::timestamp AT TIME ZONE 'UTC')
        GROUP BY day, model${org ? ', user_id' : ''}
        ORDER BY day, ${org ? 'user_id, ' : ''}model`,
      params,
    );
    const days = rows.map((r) => this.row(r, org));
    return {
      from,
      to,
      scope: query.scope,
      org_id: ctx.orgId ?? null,
      user_id: org ? null : ctx.userId,
      days,
      totals: totalsOf(days),
      quotas: await this.budgetStatus(ctx, now),
    };
  }

  private row(r: SumRow, withUser: boolean): UsageRow {
    const row: UsageRow = {
      day: r.day,
      model: r.model,
      ...(withUser ? { user_id: r.user_id } : {}),
      input_tokens: Number(r.input_tokens),
      cached_input_tokens: Number(r.cached_input_tokens),
      output_tokens: Number(r.output_tokens),
      reasoning_tokens: Number(r.reasoning_tokens),
      total_tokens: Number(r.input_tokens) + Number(r.output_tokens),
      requests: Number(r.requests),
    };
    const price = this.config.prices[r.model];
    if (price) row.cost_usd = costOf(price, row);
    return row;
  }

  /** Each configured budget that applies to the caller: spent by finished turns, and what is left. */
  private async budgetStatus(ctx: RequestContext, now: Date): Promise<BudgetStatus[]> {
    const budgets = this.quotas.budgetsFor(ctx, now);
    if (!budgets.length) return [];
    const sums: Array<Record<string, string>> = await this.usage.query(
      `SELECT ${budgets
        .map(
          (b, i) =>
            `coalesce(sum(input_tokens + output_tokens) FILTER (WHERE created_at >= $${i * 2 + 3}::timestamptz
               ${b.scope === 'user' ? `AND user_id = $${i * 2 + 4}` : `AND $${i * 2 + 4}::varchar = ''`}), 0) AS b${i}`,
        )
        .join(', ')}
         FROM token_usage WHERE org_id = $1 AND created_at >= $2::timestamptz`,
      [
        ctx.orgId ?? '',
        budgets.reduce((a, b) => (b.begins < a ? b.begins : a), now).toISOString(),
        ...budgets.flatMap((b) => [b.begins.toISOString(), b.user_id]),
      ],
    );
    return budgets.map((b, i) => {
      const used = Number(sums[0][`b${i}`]);
      return {
        budget: b.name,
        limit_tokens: b.limit,
        used_tokens: used,
        remaining_tokens: Math.max(0, b.limit - used),
        resets_at: b.resets.toISOString(),
      };
    });
  }
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function totalsOf(rows: UsageRow[]): UsageTotals {
  const totals: UsageTotals = {
    input_tokens: 0,
    cached_input_tokens: 0,
    output_tokens: 0,
    reasoning_tokens: 0,
    total_tokens: 0,
    requests: 0,
  };
  let cost: number | undefined;
  for (const r of rows) {
    totals.input_tokens += r.input_tokens;
    totals.cached_input_tokens += r.cached_input_tokens;
    totals.output_tokens += r.output_tokens;
    totals.reasoning_tokens += r.reasoning_tokens;
    totals.total_tokens += r.total_tokens;
    totals.requests += r.requests;
    if (r.cost_usd !== undefined) cost = (cost ?? 0) + r.cost_usd;
  }
  if (cost !== undefined) totals.cost_usd = roundUsd(cost);
  return totals;
}

/**
 * Token budgets (USAGE_QUOTA_*): a turn is admitted before anything of it is stored or the model
 * is called, and refused with `429 quota_exceeded` when a budget that applies to its caller is
 * used up. With no budget configured nothing here runs: no statement, no header.
 *
 * Why a hold and not a plain `used < budget` check: a check alone lets every turn that starts
 * before the first of them ends pass on the same remaining budget, on any number of replicas. So
 * admission is one statement on the budget's counter rows (usage_counters, in PostgreSQL, shared
 * by all replicas) that, per row, under the row's lock, checks `used + reserved < budget` and adds
 * the turn's hold to `reserved` (USAGE_QUOTA_TURN_RESERVE, or the largest turn seen in the period
 * when larger). Concurrent admissions serialize on the row lock (READ COMMITTED re-checks the
 * condition on the row as the previous admission left it). The turn's final statement adds what
 * it really spent to `used` and gives its hold back (usage.sql.ts). The k-th turn running at once
 * is admitted only if used + (k-1) holds < budget, so as long as no turn spends more than its
 * hold, everything admitted spends less than budget + one hold: a budget is overshot by at most
 * one turn.
 *
 * A hold must not outlive a replica that died mid-turn: holds count only until the row's
 * `reserved_until` (HOLD_TTL_MS after the newest admission), after which they lapse together.
 *
 * A counter row is made by the first admission of its period, seeded from token_usage (what was
 * spent before budgets were switched on counts too). The counters are written only while budgets
 * are configured: switching them off and on within one period loses the turns in between.
 */
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { AppException, ErrorCode } from 'src/common/app.exception';
import type { RequestContext } from 'src/common/request-context';
import { usageConfig, type UsageConfig } from 'src/config/usage.config';
import { UsageCounterEntity } from 'src/usage/usage-counter.entity';
import { UsageMetrics } from 'src/usage/usage.metrics';
import { COUNTER_KEY_ORDER } from 'src/usage/usage.sql';
import type { BudgetName, CounterHold, CounterKey, QuotaPeriod, QuotaScope } from 'src/usage/usage.types';

/** How long holds count after the newest admission on a counter (a dead replica's hold lapses). */
export const HOLD_TTL_MS = 10 * 60_000;

/** One configured budget as it applies to a caller now. */
export interface Budget extends CounterKey {
  name: BudgetName;
  limit: number;
  /** The end of the period: when the budget is whole again. */
  resets: Date;
  /** The period's first instant. */
  begins: Date;
}

/** An admitted turn's holds, and what the response headers say about the tightest budget. */
export interface Admission {
  holds: CounterHold[];
  headers: Record<string, string>;
}

interface AdmitRow {
  scope: QuotaScope;
  period: QuotaPeriod;
  used: string;
  budget: string;
  held: string;
  inserted: boolean;
}

/** The UTC day and month around `now`: [begins, resets). */
export function periodsAt(now: Date): Record<QuotaPeriod, { begins: Date; resets: Date }> {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  return {
    day: { begins: new Date(Date.UTC(y, m, d)), resets: new Date(Date.UTC(y, m, d + 1)) },
    month: { begins: new Date(Date.UTC(y, m, 1)), resets: new Date(Date.UTC(y, m + 1, 1)) },
  };
}

const DESCRIBED: Record<BudgetName, string> = {
  user_day: 'your daily token budget',
  user_month: 'your monthly token budget',
  org_day: "your organization's daily token budget",
  org_month: "your organization's monthly token budget",
};

@Injectable()
export class QuotaService {
  constructor(
    @InjectRepository(UsageCounterEntity) private readonly counters: Repository<UsageCounterEntity>,
    @Inject(usageConfig.KEY) private readonly config: UsageConfig,
    private readonly metrics: UsageMetrics,
  ) {}

  /** Whether any budget is configured: without one, turns are never checked. */
  get enabled(): boolean {
    const q = this.config.quotas;
    return [q.userDay, q.userMonth, q.orgDay, q.orgMonth].some((v) => v !== undefined);
  }

  /** The budgets that apply to the caller now, in counter key order. Org budgets need an org. */
  budgetsFor(ctx: RequestContext, now = new Date()): Budget[] {
    const q = this.config.quotas;
    const periods = periodsAt(now);
    const orgId = ctx.orgId ?? '';
    const wanted: Array<[QuotaScope, QuotaPeriod, number | undefined]> = [
      ['org', 'day', ctx.orgId ? q.orgDay : undefined],
      ['org', 'month', ctx.orgId ? q.orgMonth : undefined],
      ['user', 'day', q.userDay],
      ['user', 'month', q.userMonth],
    ];
    return wanted
      .filter((w): w is [QuotaScope, QuotaPeriod, number] => w[2] !== undefined)
      .map(([scope, period, limit]) => ({
        name: `${scope}_${period}` as BudgetName,
        scope,
        period,
        org_id: orgId,
        user_id: scope === 'user' ? ctx.userId : '',
        starts: periods[period].begins.toISOString().slice(0, 10),
        limit,
        begins: periods[period].begins,
        resets: periods[period].resets,
      }));
  }

  /**
   * Admits a turn of the caller's, or throws `429 quota_exceeded` naming the used-up budget, its
   * reset time and Retry-After. One statement when admitted; a refusal gives back the holds it
   * took on the other budgets with a second one. Undefined when no budget is configured.
   */
  async admit(ctx: RequestContext): Promise<Admission | undefined> {
    if (!this.enabled) return undefined;
    const budgets = this.budgetsFor(ctx);
    if (!budgets.length) return undefined;
    const want = budgets.map((b) => ({
      scope: b.scope,
      org_id: b.org_id,
      user_id: b.user_id,
      period: b.period,
      starts: b.starts,
      ends: b.resets.toISOString(),
      budget: b.limit,
    }));
    const rows: AdmitRow[] = await this.counters.query(
      `WITH want AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb)
           AS w(scope varchar, org_id varchar, user_id varchar, period varchar, starts date, ends timestamptz, budget bigint))
       INSERT INTO usage_counters AS c (scope, org_id, user_id, period, starts, budget, used, reserved, reserved_until)
       SELECT w.scope, w.org_id, w.user_id, w.period, w.starts, w.budget,
              CASE WHEN EXISTS (SELECT 1 FROM usage_counters e
                                 WHERE (e.scope, e.org_id, e.user_id, e.period, e.starts)
                                     = (w.scope, w.org_id, w.user_id, w.period, w.starts)) THEN 0
                   ELSE (SELECT coalesce(sum(u.input_tokens + u.output_tokens), 0) FROM token_usage u
                          WHERE u.org_id = w.org_id AND (w.user_id = '' OR u.user_id = w.user_id)
                            AND u.created_at >= (w.starts::timestamp AT TIME ZONE 'UTC') AND u.created_at < w.ends) END,
              $2::bigint, now() + $3::interval
         FROM want w ORDER BY ${COUNTER_KEY_ORDER}
       ON CONFLICT (${COUNTER_KEY_ORDER}) DO UPDATE
         SET budget = EXCLUDED.budget,
             reserved = (CASE WHEN c.reserved_until > now() THEN c.reserved ELSE 0 END) + GREATEST($2::bigint, c.largest_turn),
             reserved_until = now() + $3::interval
         WHERE c.used + (CASE WHEN c.reserved_until > now() THEN c.reserved ELSE 0 END) < EXCLUDED.budget
       RETURNING c.scope, c.period, c.used, c.budget, GREATEST($2::bigint, c.largest_turn) AS held, (c.xmax = 0) AS inserted`,
      [JSON.stringify(want), this.config.turnReserve, `${HOLD_TTL_MS} milliseconds`],
    );
    const holds: CounterHold[] = [];
    const admitted = new Map<BudgetName, { used: number }>();
    for (const row of rows) {
      const budget = budgets.find((b) => b.scope === row.scope && b.period === row.period)!;
      holds.push({ ...keyOf(budget), held: Number(row.held) });
      // A row made by this statement was not checked by it: its seed may already be over.
      if (!row.inserted || Number(row.used) < Number(row.budget))
        admitted.set(budget.name, { used: Number(row.used) });
    }
    const refused = budgets.filter((b) => !admitted.has(b.name));
    if (refused.length) {
      if (holds.length) await this.release(holds);
      // The budget that stays used up longest says when a retry can pass.
      const binding = refused.reduce((a, b) => (b.resets > a.resets ? b : a));
      this.metrics.refused(binding.name);
      throw quotaExceeded(binding);
    }
    // The tightest budget: the fewest tokens left (finished turns; running ones not counted).
    const left = budgets.map((b) => ({ b, remaining: Math.max(0, b.limit - admitted.get(b.name)!.used) }));
    const tightest = left.reduce((a, c) => (c.remaining < a.remaining ? c : a));
    return { holds, headers: quotaHeaders(tightest.b, tightest.remaining) };
  }

  /** Gives back holds of a turn that will not run (refused, or failed before it started). */
  async release(holds: CounterHold[]): Promise<void> {
    await this.counters.query(
      `WITH holds AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb)
           AS h(scope varchar, org_id varchar, user_id varchar, period varchar, starts date, held bigint)),
       locked AS (
         SELECT c.scope, c.org_id, c.user_id, c.period, c.starts FROM usage_counters c JOIN holds h USING (${COUNTER_KEY_ORDER})
          ORDER BY c.scope, c.org_id, c.user_id, c.period, c.starts FOR UPDATE OF c)
       UPDATE usage_counters c
          SET reserved = CASE WHEN c.reserved_until > now() THEN GREATEST(0, c.reserved - h.held) ELSE 0 END
         FROM holds h, locked l
        WHERE (c.scope, c.org_id, c.user_id, c.period, c.starts) = (h.scope, h.org_id, h.user_id, h.period, h.starts)
          AND (l.scope, l.org_id, l.user_id, l.period, l.starts) = (h.scope, h.org_id, h.user_id, h.period, h.starts)`,
      [JSON.stringify(holds)],
    );
  }
}

function keyOf(b: Budget): CounterKey {
  return { scope: b.scope, org_id: b.org_id, user_id: b.user_id, period: b.period, starts: b.starts };
}

/** The budget headers a turn's response (or its 429) carries; browsers must be allowed to read them. */
export const QUOTA_HEADERS = [
  'X-Quota-Budget',
  'X-Quota-Limit-Tokens',
  'X-Quota-Remaining-Tokens',
  'X-Quota-Reset',
] as const;

/** The headers of a turn's response: what is left of the tightest budget, and when it resets. */
export function quotaHeaders(budget: Budget, remaining: number): Record<string, string> {
  return {
    'X-Quota-Budget': budget.name,
    'X-Quota-Limit-Tokens': String(budget.limit),
    'X-Quota-Remaining-Tokens': String(remaining),
    'X-Quota-Reset': budget.resets.toISOString(),
  };
}

function quotaExceeded(budget: Budget, now = Date.now()): AppException {
  const retryAfter = Math.max(1, Math.ceil((budget.resets.getTime() - now) / 1000));
  const error = new AppException(
    ErrorCode.QuotaExceeded,
    `${DESCRIBED[budget.name]} (${budget.name}: ${budget.limit} tokens) is used up; it resets at ${budget.resets.toISOString()}`,
    undefined,
    { 'Retry-After': String(retryAfter), ...quotaHeaders(budget, 0) },
  );
  error.details = {
    budget: budget.name,
    limit_tokens: budget.limit,
    resets_at: budget.resets.toISOString(),
    retry_after_s: retryAfter,
  };
  return error;
}

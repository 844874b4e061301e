/**
 * Quota metrics on the shared registry. The label is the budget's name (user_day, user_month,
 * org_day, org_month), a fixed set: never a user or an org. Tokens by model and kind are the
 * agent's (agent_tokens_total), counted where the model's answer arrives.
 */
import { Injectable } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { MetricsService } from 'src/metrics/metrics.service';
import type { BudgetName } from 'src/usage/usage.types';

@Injectable()
export class UsageMetrics {
  private readonly refusals: Counter<'scope'>;

  constructor(metrics: MetricsService) {
    this.refusals = metrics.counter(
      'quota_refusals_total',
      'Turns refused with 429 quota_exceeded, by the budget that was used up',
      ['scope'],
    );
  }

  refused(budget: BudgetName): void {
    this.refusals.inc({ scope: budget });
  }
}

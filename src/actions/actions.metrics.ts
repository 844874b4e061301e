/**
 * Action webhook metrics, on the shared registry. Labels are bounded: the action types of the
 * tools file and a fixed set of outcomes, never a thread, a user or an endpoint's answer.
 */
import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';
import { MetricsService } from 'src/metrics/metrics.service';

export type WebhookOutcome = 'ok' | 'timeout' | 'http_error' | 'bad_answer' | 'unreachable';

@Injectable()
export class ActionsMetrics {
  private readonly calls: Counter<'type' | 'outcome'>;
  private readonly duration: Histogram<'type'>;

  constructor(metrics: MetricsService) {
    this.calls = metrics.counter(
      'action_webhook_calls_total',
      'Action webhook calls by action type and outcome',
      ['type', 'outcome'],
    );
    this.duration = metrics.histogram(
      'action_webhook_duration_seconds',
      'Time from sending an action webhook call to its answer read (or its failure)',
      ['type'],
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    );
  }

  call(type: string, outcome: WebhookOutcome, seconds: number): void {
    this.calls.inc({ type, outcome });
    this.duration.observe({ type }, seconds);
  }
}

/**
 * The rate limiter's Prometheus metrics, registered once on the shared registry: whether the
 * counter storage answers, and how many counter updates failed because it did not. No labels.
 */
import { Injectable } from '@nestjs/common';
import type { Counter, Gauge } from 'prom-client';
import { MetricsService } from 'src/metrics/metrics.service';

@Injectable()
export class RateLimitMetrics {
  readonly storageFailures: Counter<never>;
  readonly storageUp: Gauge<never>;

  constructor(metrics: MetricsService) {
    this.storageFailures = metrics.counter(
      'rate_limit_storage_failures_total',
      'Rate-limit counter updates that failed because Redis could not be reached',
      [],
    );
    this.storageUp = metrics.gauge(
      'rate_limit_storage_up',
      '1 while the rate-limit counter storage answers (always 1 in memory), 0 while Redis is unreachable',
      [],
    );
  }
}

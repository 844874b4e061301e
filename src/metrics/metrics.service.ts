/**
 * Every Prometheus metric of the app lives here, on one registry, so names and labels are defined
 * once. Labels never carry ids (user, thread, item): only route templates, methods, statuses,
 * types and outcomes, so cardinality stays bounded.
 */
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { metricsConfig, type MetricsConfig } from 'src/config/metrics.config';

@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly httpInFlight: Gauge<never>;
  private inFlightNow: () => number = () => 0;

  constructor(@Inject(metricsConfig.KEY) private readonly config: MetricsConfig) {
    const p = config.prefix;
    collectDefaultMetrics({ register: this.registry, prefix: p });
    this.httpDuration = new Histogram({
      name: `${p}http_request_duration_seconds`,
      help: 'HTTP request duration by route template, method and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.httpInFlight = new Gauge({
      name: `${p}http_requests_in_flight`,
      help: 'HTTP requests currently being served',
      registers: [this.registry],
      collect: () => this.httpInFlight.set(this.inFlightNow()),
    });
  }

  /** Where the in-flight gauge reads its value at each scrape (the HTTP metrics middleware). */
  countInFlight(now: () => number): void {
    this.inFlightNow = now;
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    const full = `${this.config.prefix}${name}`;
    return (
      (this.registry.getSingleMetric(full) as Counter<L>) ??
      new Counter({ name: full, help, labelNames, registers: [this.registry] })
    );
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    const full = `${this.config.prefix}${name}`;
    return (
      (this.registry.getSingleMetric(full) as Gauge<L>) ??
      new Gauge({ name: full, help, labelNames, registers: [this.registry] })
    );
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
  ): Histogram<L> {
    const full = `${this.config.prefix}${name}`;
    return (
      (this.registry.getSingleMetric(full) as Histogram<L>) ??
      new Histogram({ name: full, help, labelNames, buckets, registers: [this.registry] })
    );
  }
}

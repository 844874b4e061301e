/**
 * Times every HTTP request and counts the ones in flight. The route label is the matched route
 * template (`/api/threads/:id`), never the raw path, so ids cannot explode label cardinality;
 * requests that matched no route are labelled `unmatched`.
 *
 * Mounted by configureApp as plain Express middleware right after the body parsers (where Nest
 * would put it, minus Nest's route matching of a catch-all on every request). Each label set's
 * histogram child is looked up once and kept: the label sets are bounded (methods × route
 * templates × statuses), and prom-client otherwise validates and hashes the labels on every
 * observation.
 */
import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from 'src/metrics/metrics.service';
import { InFlightRequests } from 'src/common/in-flight-requests';
import { routeTemplate } from 'src/common/route-template';

interface Series {
  observe(seconds: number): void;
}

@Injectable()
export class HttpMetricsMiddleware {
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly metrics: MetricsService,
    private readonly inFlight: InFlightRequests,
  ) {
    // Read at each scrape instead of moved on every request.
    metrics.countInFlight(() => inFlight.size);
  }

  /** The middleware, bound to this instance for app.use(). */
  readonly handle = (req: Request, res: Response, next: NextFunction): void => {
    const start = performance.now();
    this.inFlight.enter();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.inFlight.leave();
      this.seriesOf(req.method, routeTemplate(req), res.statusCode).observe(
        (performance.now() - start) / 1000,
      );
    };
    res.on('finish', finish);
    res.on('close', finish);
    next();
  };

  private seriesOf(method: string, route: string, status: number): Series {
    const key = `${method} ${status} ${route}`;
    let series = this.series.get(key);
    if (!series) {
      series = this.metrics.httpDuration.labels({ method, route, status: String(status) });
      this.series.set(key, series);
    }
    return series;
  }
}

/**
 * Times every HTTP request and counts the ones in flight. The route label is the matched route
 * template (`/api/threads/:id`), never the raw path, so ids cannot explode label cardinality;
 * requests that matched no route are labelled `unmatched`.
 */
import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from 'src/metrics/metrics.service';
import { InFlightRequests } from 'src/common/in-flight-requests';
import { routeTemplate } from 'src/common/route-template';

@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(
    private readonly metrics: MetricsService,
    private readonly inFlight: InFlightRequests,
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const start = process.hrtime.bigint();
    this.metrics.httpInFlight.inc();
    this.inFlight.enter();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.metrics.httpInFlight.dec();
      this.inFlight.leave();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.metrics.httpDuration.observe(
        { method: req.method, route: routeTemplate(req), status: String(res.statusCode) },
        seconds,
      );
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  }
}

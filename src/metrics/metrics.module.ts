/** Prometheus metrics: the registry service (global), the HTTP timing middleware and GET /metrics. */
import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ALL_ROUTES, HttpMetricsMiddleware } from 'src/metrics/http-metrics.middleware';
import { InFlightRequests } from 'src/metrics/in-flight-requests';
import { MetricsController } from 'src/metrics/metrics.controller';
import { MetricsService } from 'src/metrics/metrics.service';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, InFlightRequests, HttpMetricsMiddleware],
  exports: [MetricsService, InFlightRequests],
})
export class MetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes(ALL_ROUTES);
  }
}

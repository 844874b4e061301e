/** Prometheus metrics: the registry service (global), the HTTP timing middleware and GET /metrics. */
import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { CommonModule } from 'src/common/common.module';
import { ALL_ROUTES } from 'src/common/route-template';
import { HttpMetricsMiddleware } from 'src/metrics/http-metrics.middleware';
import { MetricsController } from 'src/metrics/metrics.controller';
import { MetricsService } from 'src/metrics/metrics.service';

@Global()
@Module({
  // The request counter the timing middleware shares with graceful shutdown.
  imports: [CommonModule],
  controllers: [MetricsController],
  providers: [MetricsService, HttpMetricsMiddleware],
  exports: [MetricsService],
})
export class MetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes(ALL_ROUTES);
  }
}

/**
 * Prometheus metrics: the registry service (global), the HTTP timing middleware (mounted by
 * configureApp) and GET /metrics.
 */
import { Global, Module } from '@nestjs/common';
import { CommonModule } from 'src/common/common.module';
import { HttpMetricsMiddleware } from 'src/metrics/http-metrics.middleware';
import { MetricsController } from 'src/metrics/metrics.controller';
import { MetricsService } from 'src/metrics/metrics.service';

@Global()
@Module({
  // The request counter the timing middleware shares with graceful shutdown.
  imports: [CommonModule],
  controllers: [MetricsController],
  providers: [MetricsService, HttpMetricsMiddleware],
  exports: [MetricsService, HttpMetricsMiddleware],
})
export class MetricsModule {}

/** GET /metrics in the Prometheus text format. Public, unthrottled, independent of the database. */
import { Controller, Get, Header, NotFoundException, Res, Inject } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Response } from 'express';
import { ApiErrorResponses } from 'src/common/api-docs';
import { Public, WithoutDatabase } from 'src/common/decorators';
import { metricsConfig, type MetricsConfig } from 'src/config/metrics.config';
import { MetricsService } from 'src/metrics/metrics.service';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(metricsConfig.KEY) private readonly config: MetricsConfig,
  ) {}

  @Get()
  @Public()
  @WithoutDatabase()
  @SkipThrottle()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  @ApiResponse({
    status: 200,
    description: 'Every metric of this process',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrorResponses({ 404: 'Metrics are disabled (METRICS_ENABLED=false)' })
  async scrape(@Res() res: Response): Promise<void> {
    if (!this.config.enabled) throw new NotFoundException('metrics are disabled');
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}

/** GET /metrics in the Prometheus text format. Public, unthrottled, independent of the database. */
import { Controller, Get, Header, NotFoundException, Res, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Response } from 'express';
import { Public, WithoutDatabase } from 'src/common/decorators';
import { metricsConfig, type MetricsConfig } from 'src/config/metrics.config';
import { MetricsService } from 'src/metrics/metrics.service';

@ApiExcludeController()
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
  async scrape(@Res() res: Response): Promise<void> {
    if (!this.config.enabled) throw new NotFoundException('metrics are disabled');
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}

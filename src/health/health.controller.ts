/**
 * Kubernetes probes. /health/live says the process serves HTTP (it never looks at dependencies,
 * so a database outage does not get the pod killed); /health/ready says it can do real work.
 */
import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiErrorResponses, ApiJsonResponse } from 'src/common/api-docs';
import { Public, WithoutDatabase } from 'src/common/decorators';
import { DatabaseHealthIndicator } from 'src/health/database.health';
import { RateLimitHealthIndicator } from 'src/health/rate-limit.health';

@ApiTags('health')
@Controller('health')
@Public()
@WithoutDatabase()
@SkipThrottle()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly rateLimit: RateLimitHealthIndicator,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process is up and serving HTTP' })
  @ApiJsonResponse(200, 'Liveness', 'Up')
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  // Terminus' own Swagger entries describe a 3.0 body; ours is the zod-described one.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: the database answers (and Redis, per RATE_LIMIT_REDIS_FAILURE)' })
  @ApiJsonResponse(200, 'Readiness', 'Every dependency answers')
  @ApiErrorResponses({ 503: 'A dependency is down (`service_unavailable`); `details` says which' })
  async ready() {
    try {
      const checks: HealthIndicatorFunction[] = [() => this.database.ping()];
      if (this.rateLimit.applies) checks.push(() => this.rateLimit.ping());
      return await this.health.check(checks);
    } catch (err) {
      if (err instanceof ServiceUnavailableException) {
        // Keep Terminus' detailed body: probes and operators read which check failed.
        throw new ServiceUnavailableException({ ...(err.getResponse() as object), message: 'not ready' });
      }
      throw err;
    }
  }
}

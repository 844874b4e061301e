/** Liveness and readiness probes (Terminus): the database, and the rate limiter's Redis. */
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseHealthIndicator } from 'src/health/database.health';
import { HealthController } from 'src/health/health.controller';
import { RateLimitHealthIndicator } from 'src/health/rate-limit.health';
import { RateLimitStorageModule } from 'src/rate-limit/rate-limit.module';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), RateLimitStorageModule],
  controllers: [HealthController],
  providers: [DatabaseHealthIndicator, RateLimitHealthIndicator],
})
export class HealthModule {}

/**
 * @nestjs/throttler configured from RateLimitConfig. Counters are in memory for a single process,
 * or in Redis (a maintained storage package) when REDIS_URL is set, so every replica shares them.
 * File downloads have a budget of their own (see DownloadRoute).
 */
import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { rateLimitConfig, type RateLimitConfig } from 'src/config/rate-limit.config';
import { isDownloadRoute } from 'src/rate-limit/download-route.decorator';
import { FailOpenRedisStorage } from 'src/rate-limit/fail-open.storage';
import { UserThrottlerGuard } from 'src/rate-limit/user-throttler.guard';

@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [rateLimitConfig.KEY],
      useFactory: (config: RateLimitConfig) => ({
        throttlers: [
          // A throttler's own skipIf replaces the common one, so each repeats `enabled`.
          {
            name: 'default',
            ttl: config.windowMs,
            limit: config.max,
            skipIf: (context) => !config.enabled || isDownloadRoute(context),
          },
          {
            name: 'downloads',
            ttl: config.windowMs,
            limit: config.downloadsMax,
            skipIf: (context) => !config.enabled || !isDownloadRoute(context),
          },
        ],
        skipIf: () => !config.enabled,
        storage: config.redisUrl ? new FailOpenRedisStorage(config.redisUrl) : undefined,
      }),
    }),
  ],
  providers: [UserThrottlerGuard],
  exports: [UserThrottlerGuard],
})
export class RateLimitModule {}

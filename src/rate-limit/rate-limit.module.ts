/**
 * @nestjs/throttler configured from RateLimitConfig. Counters are in memory for a single process,
 * or in Redis (a maintained storage package) when REDIS_URL is set, so every replica shares them.
 */
import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { rateLimitConfig, type RateLimitConfig } from 'src/config/rate-limit.config';
import { FailOpenRedisStorage } from 'src/rate-limit/fail-open.storage';
import { UserThrottlerGuard } from 'src/rate-limit/user-throttler.guard';

@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [rateLimitConfig.KEY],
      useFactory: (config: RateLimitConfig) => ({
        throttlers: [{ name: 'default', ttl: config.windowMs, limit: config.max }],
        skipIf: () => !config.enabled,
        storage: config.redisUrl ? new FailOpenRedisStorage(config.redisUrl) : undefined,
      }),
    }),
  ],
  providers: [UserThrottlerGuard],
  exports: [UserThrottlerGuard],
})
export class RateLimitModule {}

/**
 * @nestjs/throttler configured from RateLimitConfig, on the counter storage of RateLimitStorage
 * (memory, or Redis shared by every replica). File downloads have a budget of their own (see
 * DownloadRoute); failed authentication has one per client address (see ThrottledAuthGuard).
 */
import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { AuthModule } from 'src/auth/auth.module';
import { rateLimitConfig, type RateLimitConfig } from 'src/config/rate-limit.config';
import { isDownloadRoute } from 'src/rate-limit/download-route.decorator';
import { RateLimitMetrics } from 'src/rate-limit/rate-limit.metrics';
import { RateLimitStorage } from 'src/rate-limit/rate-limit.storage';
import { ThrottledAuthGuard } from 'src/rate-limit/throttled-auth.guard';
import { UserThrottlerGuard } from 'src/rate-limit/user-throttler.guard';

/** The counter storage alone, for readiness to ask about Redis. */
@Module({
  providers: [RateLimitMetrics, RateLimitStorage],
  exports: [RateLimitStorage],
})
export class RateLimitStorageModule {}

@Module({
  imports: [
    AuthModule,
    RateLimitStorageModule,
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [rateLimitConfig.KEY, RateLimitStorage],
      useFactory: (config: RateLimitConfig, storage: RateLimitStorage) => ({
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
        storage,
      }),
    }),
  ],
  providers: [ThrottledAuthGuard, UserThrottlerGuard],
  exports: [ThrottledAuthGuard, UserThrottlerGuard],
})
export class RateLimitModule {}

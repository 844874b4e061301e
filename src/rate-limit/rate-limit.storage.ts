/**
 * Wraps the Redis throttler storage so that a Redis outage does not take the API down with it:
 * while Redis cannot be reached, requests are let through (and a warning is logged at most once a
 * minute) instead of every request failing with a 500. Rate limiting is a protection, not a
 * dependency the service should die of.
 */
import { Logger } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';

type IncrementResult = Awaited<ReturnType<ThrottlerStorage['increment']>>;

export class FailOpenRedisStorage implements ThrottlerStorage {
  private readonly logger = new Logger('RateLimit');
  private readonly inner: ThrottlerStorageRedisService;
  private lastWarning = 0;

  constructor(url: string) {
    this.inner = new ThrottlerStorageRedisService(url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
    });
    // ioredis reports connection problems as 'error' events; unhandled, they print raw stack traces.
    this.inner.redis.on('error', (err: Error) => this.warn(err));
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<IncrementResult> {
    try {
      return await this.inner.increment(key, ttl, limit, blockDuration, throttlerName);
    } catch (err) {
      this.warn(err as Error);
      return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    }
  }

  onModuleDestroy(): void {
    this.inner.onModuleDestroy();
  }

  private warn(err: Error): void {
    if (Date.now() - this.lastWarning < 60_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(`Redis unavailable, rate limits are not enforced until it is back: ${err.message}`);
  }
}

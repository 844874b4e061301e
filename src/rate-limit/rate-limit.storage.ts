/**
 * Where the rate-limit counters live: process memory, or Redis when REDIS_URL is set so that
 * replicas share them. What happens while Redis cannot be reached is the operator's choice
 * (RATE_LIMIT_REDIS_FAILURE), made visible either way:
 * - `open`: requests pass unlimited; a warning at most once a minute, the failure counter and the
 *   `up` gauge in the metrics, and readiness details say so (readiness itself stays up);
 * - `closed`: rate-limited requests fail with 503 `rate_limit_unavailable` and readiness fails,
 *   so the load balancer takes the replica out.
 * Every Redis call is bounded by short timeouts and nothing is queued while disconnected, so an
 * outage never holds a request; the client reconnects by itself and limiting resumes.
 * It must never throw anything but an AppException at a request.
 */
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { rateLimitConfig, type RateLimitConfig } from 'src/config/rate-limit.config';
import { RateLimitMetrics } from 'src/rate-limit/rate-limit.metrics';

type IncrementResult = Awaited<ReturnType<ThrottlerStorage['increment']>>;

const CONNECT_TIMEOUT_MS = 1_000;
const COMMAND_TIMEOUT_MS = 500;
const MAX_RECONNECT_DELAY_MS = 2_000;
const WARNING_INTERVAL_MS = 60_000;
/** What a client refused in `closed` mode is told to wait: about one reconnection attempt. */
const RETRY_AFTER_S = 5;

@Injectable()
export class RateLimitStorage implements ThrottlerStorage, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('RateLimit');
  private readonly memory?: ThrottlerStorageService;
  private readonly redis?: ThrottlerStorageRedisService;
  private down = false;
  private closing = false;
  private lastWarning = 0;

  constructor(
    @Inject(rateLimitConfig.KEY) private readonly config: RateLimitConfig,
    private readonly metrics: RateLimitMetrics,
  ) {
    if (!config.redisUrl) {
      this.memory = new ThrottlerStorageService();
      metrics.storageUp.set(1);
      return;
    }
    this.redis = new ThrottlerStorageRedisService(config.redisUrl, {
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      // Fail at once while disconnected instead of queueing the request behind the reconnection.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    });
    metrics.storageUp.set(0);
    // Unhandled, ioredis prints every failed reconnection as a raw stack trace.
    this.client.on('error', (err: Error) => this.markDown(err));
    this.client.on('close', () => this.markDown(new Error('connection closed')));
    this.client.on('ready', () => this.markUp());
  }

  get usesRedis(): boolean {
    return this.redis !== undefined;
  }

  get failureMode(): 'open' | 'closed' {
    return this.config.redisFailure;
  }

  private get client(): Redis {
    return this.redis!.redis as Redis;
  }

  /** Gives Redis a moment to connect, so the first requests after a start are not refused. */
  async onModuleInit(): Promise<void> {
    if (!this.redis || this.client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, CONNECT_TIMEOUT_MS * 2);
      this.client.once('ready', done);
    });
  }

  onModuleDestroy(): void {
    this.closing = true;
    this.redis?.onModuleDestroy();
    this.memory?.onApplicationShutdown();
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<IncrementResult> {
    if (!this.redis) return this.memory!.increment(key, ttl, limit, blockDuration, throttlerName);
    try {
      const result = await this.redis.increment(key, ttl, limit, blockDuration, throttlerName);
      this.markUp();
      return result;
    } catch (err) {
      this.metrics.storageFailures.inc();
      this.markDown(err as Error);
      if (this.failureMode === 'closed') {
        throw new AppException(
          ErrorCode.RateLimitUnavailable,
          'rate limiting is unavailable; try again shortly',
          undefined,
          { 'Retry-After': String(RETRY_AFTER_S) },
        );
      }
      return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    }
  }

  /** Whether Redis answers now (for readiness); always true in memory. */
  async ping(): Promise<boolean> {
    if (!this.redis) return true;
    try {
      await this.client.ping();
      this.markUp();
      return true;
    } catch (err) {
      this.markDown(err as Error);
      return false;
    }
  }

  private markUp(): void {
    this.metrics.storageUp.set(1);
    if (!this.down) return;
    this.down = false;
    this.lastWarning = 0;
    this.logger.log('Redis is reachable again: rate limits are enforced');
  }

  private markDown(err: Error): void {
    if (this.closing) return;
    this.metrics.storageUp.set(0);
    this.down = true;
    if (Date.now() - this.lastWarning < WARNING_INTERVAL_MS) return;
    this.lastWarning = Date.now();
    const effect =
      this.failureMode === 'open'
        ? 'rate limits are not enforced'
        : 'rate-limited requests are refused with 503';
    this.logger.warn(`Redis unavailable, ${effect} until it is back: ${err.message}`);
  }
}

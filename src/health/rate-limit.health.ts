/**
 * Readiness of the rate limiter's Redis, when there is one. Its status follows
 * RATE_LIMIT_REDIS_FAILURE: in `open` mode the replica can serve without Redis, so the check stays
 * up and only its details say Redis is down and limits are not enforced; in `closed` mode
 * rate-limited routes answer 503 without Redis, so the check is down and the replica leaves the
 * load balancer.
 */
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RateLimitStorage } from 'src/rate-limit/rate-limit.storage';

@Injectable()
export class RateLimitHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly storage: RateLimitStorage,
  ) {}

  /** False when the counters are in memory: nothing to check. */
  get applies(): boolean {
    return this.storage.usesRedis;
  }

  async ping(key = 'rateLimit') {
    const check = this.indicator.check(key);
    const up = await this.storage.ping();
    const details = { redis: up ? 'up' : 'down', failureMode: this.storage.failureMode, enforced: up };
    return up || this.storage.failureMode === 'open' ? check.up(details) : check.down(details);
  }
}

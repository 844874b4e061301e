/**
 * The global authentication guard with a budget for failures: AuthGuard decides who is asking;
 * each request it refuses counts against the client address (see clientAddress) in
 * the rate-limit storage, and past RATE_LIMIT_AUTH_FAILURES_MAX per window the refusal becomes a
 * 429. Without it, requests with no token or a forged one never reach the per-caller throttler
 * (it runs after authentication) and could be sent without limit.
 *
 * Only failures count and only failures are refused: a valid token from the same address (an
 * office behind one NAT) keeps its own per-caller budget. A request without credentials is
 * refused without any verification. Public routes (probes, metrics, signed links) never fail
 * authentication, so they are never counted or refused here.
 */
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthGuard } from 'src/auth/auth.guard';
import { AppException, ErrorCode } from 'src/common/app.exception';
import { rateLimitConfig, type RateLimitConfig } from 'src/config/rate-limit.config';
import { clientAddress } from 'src/rate-limit/client-address';
import { RateLimitStorage } from 'src/rate-limit/rate-limit.storage';

const THROTTLER_NAME = 'auth_failures';

@Injectable()
export class ThrottledAuthGuard implements CanActivate {
  constructor(
    private readonly auth: AuthGuard,
    private readonly storage: RateLimitStorage,
    @Inject(rateLimitConfig.KEY) private readonly config: RateLimitConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await this.auth.canActivate(context);
    } catch (err) {
      if (!(err instanceof AppException) || err.status !== 401) throw err;
      if (!this.config.enabled || context.getType() !== 'http') throw err;
      throw await this.countFailure(context, err);
    }
  }

  /** Counts the failure; gives back the error to answer with: the 401 itself, or a 429 past the budget. */
  private async countFailure(context: ExecutionContext, failure: AppException): Promise<AppException> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const address = clientAddress(req);
    const limit = this.config.authFailuresMax;
    const { totalHits, timeToExpire, isBlocked, timeToBlockExpire } = await this.storage.increment(
      `ratelimit:${THROTTLER_NAME}:ip:${address}`,
      this.config.windowMs,
      limit,
      this.config.windowMs,
      THROTTLER_NAME,
    );
    res.setHeader('X-RateLimit-Limit', String(limit));
    res.setHeader('X-RateLimit-Remaining', String(Math.max(0, limit - totalHits)));
    res.setHeader('X-RateLimit-Reset', String(timeToExpire));
    if (!isBlocked) return failure;
    return new AppException(
      ErrorCode.RateLimited,
      'too many failed authentication attempts from this address; try again later',
      undefined,
      { 'Retry-After': String(timeToBlockExpire) },
    );
  }
}

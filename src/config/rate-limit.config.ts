/** Per-user request budgets; counters live in Redis when REDIS_URL is set so replicas share them. */
import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import { envBoolean, envInt, envUrl, parseEnv } from 'src/config/env.schema';

export const rateLimitEnvShape = {
  RATE_LIMIT_ENABLED: envBoolean(true),
  RATE_LIMIT_WINDOW_S: envInt(60, { min: 1, max: 86_400 }),
  RATE_LIMIT_MAX: envInt(120, { min: 1, max: 1_000_000 }),
  RATE_LIMIT_DOWNLOADS_MAX: envInt(1_200, { min: 1, max: 1_000_000 }),
  RATE_LIMIT_AUTH_FAILURES_MAX: envInt(20, { min: 1, max: 1_000_000 }),
  REDIS_URL: envUrl(['redis:', 'rediss:']),
  RATE_LIMIT_REDIS_FAILURE: z
    .enum(['open', 'closed', ''])
    .optional()
    .transform((v) => (v ? v : 'open')),
};

export const rateLimitConfig = registerAs('rateLimit', () => {
  const env = parseEnv(rateLimitEnvShape);
  return {
    enabled: env.RATE_LIMIT_ENABLED,
    windowMs: env.RATE_LIMIT_WINDOW_S * 1000,
    max: env.RATE_LIMIT_MAX,
    /** Attachment downloads per window, a budget of their own (per user, or per IP for signed links). */
    downloadsMax: env.RATE_LIMIT_DOWNLOADS_MAX,
    /** Failed authentications per window and client address; past it they are answered 429. */
    authFailuresMax: env.RATE_LIMIT_AUTH_FAILURES_MAX,
    redisUrl: env.REDIS_URL,
    /** While Redis is unreachable: let requests through unlimited (`open`) or refuse them (`closed`). */
    redisFailure: env.RATE_LIMIT_REDIS_FAILURE as 'open' | 'closed',
  };
});

export type RateLimitConfig = ReturnType<typeof rateLimitConfig>;

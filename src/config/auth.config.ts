/**
 * How callers prove who they are. Bearer JWTs (HS256 secret or a JWKS URL for RS256/ES256), or —
 * only when explicitly enabled and never in production — a development mode that trusts X-User-ID.
 * Also which claims name the user and the organisation, and how long a token may live.
 */
import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import {
  envBoolean,
  envInt,
  envList,
  envOptionalInt,
  envString,
  envUrl,
  parseEnv,
  ConfigValidationError,
} from 'src/config/env.schema';

const ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];

export const authEnvShape = {
  AUTH_JWT_SECRET: envString(),
  AUTH_JWKS_URL: envUrl(['https:', 'http:']),
  AUTH_JWT_ISSUER: envString(),
  AUTH_JWT_AUDIENCE: envString(),
  AUTH_JWT_ALGORITHMS: envList([]).pipe(
    z.array(
      z.enum(ALGORITHMS as [string, ...string[]], {
        message: `each must be one of ${ALGORITHMS.join(', ')}`,
      }),
    ),
  ),
  AUTH_CLOCK_TOLERANCE_S: envInt(30, { min: 0, max: 3600 }),
  AUTH_USER_CLAIM: envString('sub'),
  AUTH_ORG_CLAIM: envString(),
  AUTH_ORG_CLAIM_PATH: envString(),
  AUTH_ORG_REQUIRED: envBoolean(false),
  AUTH_REQUIRE_EXP: envBoolean(true),
  AUTH_MAX_TOKEN_AGE_S: envOptionalInt({ min: 1, max: 31_536_000 }),
  AUTH_ADMIN_CLAIM: envString('roles'),
  AUTH_ADMIN_VALUE: envString('admin'),
  AUTH_DEV_MODE: envBoolean(false),
  NODE_ENV: z.string().optional(),
};

export const authConfig = registerAs('auth', () => {
  const env = parseEnv(authEnvShape);
  const problems: string[] = [];
  if (env.AUTH_DEV_MODE && env.NODE_ENV === 'production') {
    problems.push('AUTH_DEV_MODE: must not be enabled when NODE_ENV=production');
  }
  if (env.AUTH_JWT_SECRET !== undefined && env.AUTH_JWT_SECRET.length < 32) {
    problems.push('AUTH_JWT_SECRET: must be at least 32 characters');
  }
  if (env.NODE_ENV === 'production' && !env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) {
    problems.push('AUTH_JWT_SECRET or AUTH_JWKS_URL: one is required when NODE_ENV=production');
  }
  // A top-level claim name is taken verbatim (Auth0-style names such as https://example.com/org
  // contain dots and slashes); the path inside it is separate, so neither is ever ambiguous.
  const orgClaimPath = env.AUTH_ORG_CLAIM_PATH?.split('.') ?? [];
  if (orgClaimPath.some((key) => key.trim() === '' || key !== key.trim())) {
    problems.push(
      `AUTH_ORG_CLAIM_PATH: expected property names separated by dots, such as "id" or "org.id", got "${env.AUTH_ORG_CLAIM_PATH}"`,
    );
  }
  if (env.AUTH_ORG_CLAIM_PATH !== undefined && env.AUTH_ORG_CLAIM === undefined) {
    problems.push('AUTH_ORG_CLAIM_PATH: needs AUTH_ORG_CLAIM, the top-level claim the path starts from');
  }
  if (env.AUTH_ORG_REQUIRED && env.AUTH_ORG_CLAIM === undefined) {
    problems.push('AUTH_ORG_REQUIRED: needs AUTH_ORG_CLAIM, the claim that holds the organisation');
  }
  if (problems.length) throw new ConfigValidationError(problems);
  const algorithms = env.AUTH_JWT_ALGORITHMS.length
    ? env.AUTH_JWT_ALGORITHMS
    : [...(env.AUTH_JWT_SECRET ? ['HS256'] : []), ...(env.AUTH_JWKS_URL ? ['RS256', 'ES256'] : [])];
  return {
    jwtSecret: env.AUTH_JWT_SECRET,
    jwksUrl: env.AUTH_JWKS_URL,
    issuer: env.AUTH_JWT_ISSUER,
    audience: env.AUTH_JWT_AUDIENCE,
    algorithms,
    clockToleranceS: env.AUTH_CLOCK_TOLERANCE_S,
    userClaim: env.AUTH_USER_CLAIM!,
    orgClaim: env.AUTH_ORG_CLAIM,
    /** Property names leading from the org claim to the organisation id; empty: the claim itself. */
    orgClaimPath,
    orgRequired: env.AUTH_ORG_REQUIRED,
    requireExp: env.AUTH_REQUIRE_EXP,
    /** Oldest accepted token, by its `iat`, in seconds; undefined: no limit. */
    maxTokenAgeS: env.AUTH_MAX_TOKEN_AGE_S,
    adminClaim: env.AUTH_ADMIN_CLAIM!,
    adminValue: env.AUTH_ADMIN_VALUE!,
    devMode: env.AUTH_DEV_MODE,
  };
});

export type AuthConfig = ReturnType<typeof authConfig>;
